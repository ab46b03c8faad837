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
  copies (``python tools/course.py exercises``) contain in place of each solution.

**Shortcut-proof.** A check that grades a function the learner must write runs it while the
library function it re-implements is switched off (``schedules.clr`` for the CLR checks,
``schedules.one_cycle`` for 1cycle, ``hessian.estimate`` for the estimate, the indicator's
reading for the plateau checks, …): calling it raises inside the learner's function, and the
check fails with "use your own arithmetic, not schedules.clr". A Python function is switched
off by swapping its code for a trap's, so every alias trips it too (a default argument,
``functools.partial``, a dict holding it), and so does a schedule the factory built before the
check (``sched = schedules.clr(...)`` in an earlier cell) wherever the learner's code can reach
it; a class (torch's schedulers) is replaced in its module and its ``__init__`` and ``get_lr``
trapped. The references are computed with the library outside those calls.
:func:`close` takes ``forbid=[...]`` for the same purpose.
Every check takes ``name=``: the exercise it grades, e.g. ``"Exercise 1 · Triangular CLR"``.

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
import sys
import types
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np
import torch

from . import hessian, indicator, lr_finder, schedules

__all__ = ["Result", "CheckFailed", "strict", "is_strict", "STRICT_ENV", "close",
           "lr_in_decade", "triangular", "triangular2", "exp_range", "one_cycle",
           "range_test_reading", "plateau_reading", "plateau_verdict", "plateau_bounds",
           "cycle_budget", "hessian_estimate", "largest_dip", "noise_scale", "multistep"]

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


class _Shortcut(_Broken):
    """The learner's function called a library function it should re-implement."""


# The library functions switched off while the learner's code runs: (owner, attribute, label).
_forbidden: contextvars.ContextVar[tuple] = contextvars.ContextVar("superconv_forbidden",
                                                                    default=())
_MISSING = object()


def _target(obj: Any) -> tuple[Any, str, str, Any]:
    """``(owner, attribute, label, obj)`` of a library function or method given as the object.
    A function of the notebook itself (module ``__main__``) is labelled by its name alone."""
    owner = getattr(obj, "__self__", None)                # a classmethod, bound to its class
    if isinstance(owner, type):
        return owner, obj.__name__, f"{owner.__name__}.{obj.__name__}", obj
    qual = getattr(obj, "__qualname__", obj.__name__)
    module = sys.modules.get(obj.__module__)
    if "." in qual and "<locals>" not in qual:            # a method: patch it on its class
        cls = getattr(module, qual.split(".")[0])
        return cls, obj.__name__, qual, obj
    if obj.__module__ == "__main__" or module is None:
        return module, obj.__name__, obj.__name__, obj
    return module, obj.__name__, f"{obj.__module__.rsplit('.', 1)[-1]}.{obj.__name__}", obj


@contextlib.contextmanager
def _without(*functions: Any) -> Iterator[None]:
    """While the learner's code runs inside this block (through :func:`_call`), ``functions``
    raise: the check grades the learner's arithmetic, not a call to the library."""
    token = _forbidden.set(_forbidden.get() + tuple(_target(f) for f in functions))
    try:
        yield
    finally:
        _forbidden.reset(token)


def _code_trap(*_args: Any, **_kwargs: Any) -> Any:
    """The template of the code swapped into a forbidden Python function while the learner's
    code runs. Its placeholder constant is replaced by the trap that records the call and raises;
    it reads no globals and has no free variables, so it fits any plain function's ``__code__``
    (whose ``__globals__`` stay the library module's)."""
    return "__superconv_trap__".__call__()


def _trap_code(trap: Callable, freevars: tuple[str, ...] = ()) -> types.CodeType:
    """The code of :func:`_code_trap` calling ``trap``, with the free variables ``freevars`` (those
    of the function that takes it: a closure's ``__code__`` must keep its own free variables)."""
    code = _code_trap.__code__
    if freevars:
        code = _trap_templates.get(freevars)
        if code is None:
            names = ", ".join(freevars)
            src = ("def _outer():\n" + "".join(f"    {v} = None\n" for v in freevars)
                   + "    def _code_trap(*_args, **_kwargs):\n"
                   + "        return '__superconv_trap__'.__call__()\n"
                   + f"        ({names},)\n    return _code_trap\n")
            space: dict[str, Any] = {}
            exec(compile(src, __file__, "exec"), space)          # noqa: S102 (names are code's)
            code = _trap_templates[freevars] = space["_outer"]().__code__
    return code.replace(co_consts=tuple(trap if c == "__superconv_trap__" else c
                                        for c in code.co_consts))


_trap_templates: dict[tuple[str, ...], types.CodeType] = {}


def _made_by(factory: types.FunctionType) -> set[types.CodeType]:
    """The code objects of the functions that ``factory`` builds (its nested functions, at any
    depth): a closure whose ``__code__`` is one of them was made by ``factory``."""
    found, todo = set(), [factory.__code__]
    while todo:
        for const in todo.pop().co_consts:
            if isinstance(const, types.CodeType):
                found.add(const)
                todo.append(const)
    return found


_MAX_ITEMS = 1000        # a container larger than this (data, results) holds no schedules


def _reachable(fn: Any) -> Iterator[Any]:
    """What the learner's ``fn`` can reach without an argument: its module's globals (the
    notebook's), its closure cells and default arguments, the same of every function of the
    notebook's among them (the learner's helpers), and the items of the containers among them
    (one level down: a dict or list of schedules)."""
    home = getattr(fn, "__globals__", None)
    todo, seen = [fn], set()
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        roots: list[Any] = []
        if f is fn and home is not None:
            roots += list(home.values())
        for cell in getattr(f, "__closure__", None) or ():
            try:
                roots.append(cell.cell_contents)
            except ValueError:        # an empty cell
                pass
        roots += list(getattr(f, "__defaults__", None) or ())
        roots += list((getattr(f, "__kwdefaults__", None) or {}).values())
        for value in roots:
            items = [value]
            if isinstance(value, dict) and len(value) <= _MAX_ITEMS:
                items += list(value.values())
            elif isinstance(value, (list, tuple, set, frozenset)) and len(value) <= _MAX_ITEMS:
                items += list(value)
            for item in items:
                yield item
                if isinstance(item, types.FunctionType) and item.__globals__ is home:
                    todo.append(item)     # a helper of the learner's: follow what it holds


def _python_function(obj: Any) -> Optional[types.FunctionType]:
    """The plain Python function behind ``obj`` (a function, a method bound to its class, a
    classmethod or staticmethod), whose ``__code__`` can take the trap's; else None."""
    func = obj.__func__ if isinstance(obj, (types.MethodType, classmethod, staticmethod)) else obj
    return func if isinstance(func, types.FunctionType) else None


def _call(fn: Callable, *args: Any) -> Any:
    targets = _forbidden.get()
    used: list[str] = []
    undo: list[tuple[Any, str, Any]] = []

    def trap_for(label: str) -> Callable:
        def trap(*_a: Any, **_k: Any) -> Any:
            used.append(label)
            raise RuntimeError(f"{label} is switched off while the check runs your code")
        return trap

    for owner, attr, label, obj in targets:  # the library function itself, passed as the answer
        bound = isinstance(fn, types.MethodType) and fn == obj     # a classmethod, bound anew
        if fn is obj or bound or (owner is not None and (
                fn is getattr(owner, attr, _MISSING) or fn is vars(owner).get(attr, _MISSING))):
            raise _Shortcut(_shortcut_message(label))
    namespace = getattr(fn, "__globals__", None)
    for owner, attr, label, obj in targets:
        trap = trap_for(label)
        func = _python_function(obj)
        if func is not None:
            # Swap the function's code itself: every alias (a default argument, a
            # functools.partial, a dict or list holding it, an import under another name)
            # calls the same function object, so every alias trips the trap.
            # A schedule the factory built before the check (`sched = schedules.clr(...)` in
            # an earlier cell) is a closure of its own: trap the ones the learner's code reaches.
            made = _made_by(func)
            undo.append((func, "__code__", func.__code__))
            func.__code__ = _trap_code(trap, func.__code__.co_freevars)
            for value in _reachable(fn) if made else ():
                if isinstance(value, types.FunctionType) and value.__code__ in made:
                    undo.append((value, "__code__", value.__code__))
                    value.__code__ = _trap_code(trap, value.__code__.co_freevars)
            continue
        # A builtin or a class (torch's schedulers): replace it where it can be looked up.
        original = getattr(owner, attr)
        raw = vars(owner).get(attr, _MISSING) if isinstance(owner, type) else original
        undo.append((owner, attr, raw))
        setattr(owner, attr, trap)
        if isinstance(original, type) and "__init__" in vars(original):
            # an alias of the class (a default argument, a dict) still runs its __init__
            undo.append((original, "__init__", vars(original)["__init__"]))
            original.__init__ = trap
            get_lr = vars(original).get("get_lr")
            if isinstance(get_lr, types.FunctionType):   # a scheduler built before the check
                undo.append((get_lr, "__code__", get_lr.__code__))
                get_lr.__code__ = _trap_code(trap, get_lr.__code__.co_freevars)
        if namespace is not None:     # `from superconv_lib.schedules import clr` in a notebook
            for key, value in list(namespace.items()):
                if value is original or (raw is not _MISSING and value is raw):
                    undo.append((namespace, key, value))
                    namespace[key] = trap
        for cell in getattr(fn, "__closure__", None) or ():   # ... or in an enclosing function
            try:
                value = cell.cell_contents
            except ValueError:        # an empty cell
                continue
            if value is original:
                undo.append((cell, "cell_contents", value))
                cell.cell_contents = trap
    try:
        result = fn(*args)
    except NotImplementedError:
        if used:
            raise _Shortcut(_shortcut_message(used[0])) from None
        raise _NotAttempted from None
    except Exception as e:  # the learner's bug, reported as a failure
        if used:
            raise _Shortcut(_shortcut_message(used[0])) from None
        raise _Broken(f"{type(e).__name__}: {e}") from None
    finally:
        for owner, attr, raw in reversed(undo):
            if isinstance(owner, dict):
                owner[attr] = raw
            elif raw is _MISSING:
                delattr(owner, attr)
            else:
                setattr(owner, attr, raw)
    if used:                          # the learner's code caught the error: still a shortcut
        raise _Shortcut(_shortcut_message(used[0]))
    return result


def _present(module: Any, *names: str) -> tuple:
    """The module's private helpers among ``names`` that exist (they may be renamed)."""
    return tuple(getattr(module, n) for n in names if callable(getattr(module, n, None)))


def _shortcut_message(label: str) -> str:
    return (f"your code calls {label}; use your own arithmetic, not {label} (the check "
            "switches it off while your code runs).")


def _failed(title: str, e: _Broken, message: str, hint: str) -> Result:
    """The result for a learner's function that raised: a shortcut says so, a bug says what."""
    if isinstance(e, _Shortcut):
        return Result(title, False, str(e), "write the computation yourself from the idea; the "
                      "library function is what the check compares you with.")
    return Result(title, False, f"{message}: {e}", hint)


def _grade(title: str, compare: Callable[[], Result], *, fn: Any = _MISSING,
           failed: str = "your function failed", hint: str = "",
           forbid: Sequence[Callable] = ()) -> Result:
    """Run one check: ``compare()`` tries the learner's answer and returns the :class:`Result`.

    The frame every check shares. ``fn`` (when given) must be the learner's function itself,
    not its value. While ``compare`` runs, the library functions in ``forbid`` are switched off
    inside the learner's code. Code that still raises ``NotImplementedError`` is "not attempted";
    code that raises or returns junk fails with ``"{failed}: {what went wrong}"`` and ``hint``.
    The result is shown, and in strict mode raises unless it passed.
    """
    if fn is not _MISSING and not callable(fn):
        return _report(Result(title, False, "pass your function itself, without calling it "
                              "(no parentheses after its name).", ""))
    try:
        with _without(*forbid):
            result = compare()
    except _NotAttempted:
        result = _not_attempted(title)
    except _Broken as e:
        result = _failed(title, e, failed, hint)
    return _report(result)


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


# Values
# ---------------------------------------------------------------------------------------------

def close(answer: Any, reference: float, *, rel: float = 0.05, abs: float = 0.0,
          name: str = "Your answer", hint: str = "", forbid: Sequence[Callable] = ()) -> Result:
    """Pass when ``answer`` is within ``rel`` (relative) or ``abs`` (absolute) of ``reference``.

    ``answer`` is a number or a function returning one (called without arguments). The message
    says whether the answer is too high or too low, never the reference. ``hint`` is shown on
    failure (say which formula or plot to look at). ``forbid``: library functions switched off
    while ``answer`` runs (compute ``reference`` with them *before* the call), so that calling
    them is reported as a shortcut instead of passing.
    """
    if not 0 <= rel < math.inf or not 0 <= abs < math.inf:
        raise ValueError("close: rel and abs must be finite and >= 0 (tolerances).")
    if isinstance(reference, (bool, str, bytes)) or not _finite_number(reference):
        raise ValueError(f"close: reference must be a finite number (got {_short(reference)}).")
    ref = float(reference)

    def compare() -> Result:
        value = _number(_answer(answer), "the answer")
        if math.isclose(value, ref, rel_tol=rel, abs_tol=abs):
            return Result(name, True, f"{_fmt(value)} is right ({_tolerance(rel, abs)}).")
        side = "too high" if value > ref else "too low" if value < ref else "not a number"
        return Result(name, False, f"{_fmt(value)} is {side}.",
                      hint or "recompute it step by step from the formula above.")
    return _grade(name, compare, failed="your code failed", hint=hint, forbid=forbid)


def lr_in_decade(answer: Any, reference_lr: float, *, factor: float = 3.0,
                 name: str = "Your learning rate",
                 hint: str = "read the plot again; on a log axis each labelled tick is a factor "
                             "of 10.", forbid: Sequence[Callable] = ()) -> Result:
    """Pass when the learning rate ``answer`` is within a factor ``factor`` of ``reference_lr``
    (``factor=3`` accepts about one decade, 1/3x to 3x: readings of a range-test plot differ by
    that much between people and seeds). ``answer``: a number or a function returning one.
    ``forbid`` as in :func:`close`."""
    if not _finite_number(factor) or not factor > 1:
        raise ValueError(f"lr_in_decade: factor must be a finite number > 1 (got "
                         f"{_short(factor)}); e.g. 3.")
    if not _finite_number(reference_lr) or not reference_lr > 0:
        raise ValueError(f"lr_in_decade: reference_lr must be a finite number > 0 (got "
                         f"{_short(reference_lr)}).")

    def compare() -> Result:
        lr = _number(_answer(answer), "the learning rate")
        return _decade_result(name, lr, reference_lr, factor, hint)
    return _grade(name, compare, failed="your code failed", hint=hint, forbid=forbid)


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
# What a range-test reading must not call: the suggestions it is compared with.
_RANGE_TEST_SHORTCUTS = (lr_finder.RangeTest.suggestions, lr_finder.RangeTest.from_curve,
                         *_present(lr_finder, "_acc_bounds", "_valley_index"))


def range_test_reading(answer: Any, test: Any, *, rule: str = "valley", factor: float = 3.0,
                       name: str = "Your range-test reading") -> Result:
    """Pass when a reading of an LR range test is within ``factor`` of the library's suggestion.

    ``test`` is a :class:`superconv_lib.lr_finder.RangeTest`; ``rule`` names the suggestion to
    compare with: ``"valley"``, ``"steepest"``, ``"min_div_10"`` (loss curve), ``"acc_base"``
    or ``"acc_max"`` (the two ends of Smith's accuracy-based ``acc_bounds``). ``answer`` is a
    learning rate or a function returning one, called with ``test`` (or with nothing) while
    ``RangeTest.suggestions`` is switched off.
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

    def compare() -> Result:
        lr = _number(_answer(answer, test), "the learning rate")
        return _decade_result(name, lr, ref, factor, _RULE_HINTS[rule])
    return _grade(name, compare, failed="your code failed", hint=_RULE_HINTS[rule],
                  forbid=_RANGE_TEST_SHORTCUTS)


_YES, _NO = ("yes", "y", "true"), ("no", "n", "false")


def _yes_no(raw: Any) -> bool:
    if isinstance(raw, str) and raw.strip().lower() in _YES + _NO:
        return raw.strip().lower() in _YES
    if isinstance(raw, (bool, np.bool_)):
        return bool(raw)
    raise _Broken(f"answer True/False or 'yes'/'no', got {_short(raw)}")


_PLATEAU_HINT = ("find the best smoothed accuracy A and the floor L = A − drop·(A − chance); the "
                 "plateau is the run of lrs around the best where accuracy stays at or above L. "
                 "The setup super-converges when that plateau covers at least `threshold` of the "
                 "lrs swept.")
# What a reading of an accuracy curve must not call: the indicator's own reading.
_INDICATOR_SHORTCUTS = (indicator.analyse, indicator.Indicator.from_points,
                        indicator.Indicator.reread, indicator.indicator,
                        *_present(indicator, "_median_filter"))


def plateau_reading(answer: Any, reading: Any, *,
                    name: str = "Your super-convergence reading") -> Result:
    """Pass when a yes/no reading of an accuracy-vs-lr curve agrees with the library's indicator.

    The question (Smith & Topin): *does the test accuracy stay high up to large learning rates,
    so that the setup can super-converge?* ``reading`` is the reference: an
    :class:`superconv_lib.indicator.Indicator` (or its ``analysis``), whose ``super_converges``
    applies the indicator's criteria, or a plain bool. ``answer``: True/False,
    ``"yes"``/``"no"``, or a function returning one, called with nothing (a reading by eye;
    :func:`plateau_verdict` grades a function that reads curves itself).
    """
    expected = getattr(reading, "super_converges", reading)
    if not isinstance(expected, (bool, np.bool_)):
        raise ValueError("plateau_reading: reading must be an indicator.Indicator (or its "
                         f"analysis) or a bool, got {type(reading).__name__}.")
    expected = bool(expected)

    def compare() -> Result:
        said = _yes_no(_answer(answer))
        word = "yes" if said else "no"
        if said == expected:
            return Result(name, True, f"'{word}' is right.")
        return Result(name, False, f"'{word}' does not match this curve.", _PLATEAU_HINT)
    return _grade(name, compare, failed="your answer", hint=_PLATEAU_HINT,
                  forbid=_INDICATOR_SHORTCUTS)


def _curves() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Synthetic accuracy-vs-lr curves of a linear sweep 0 -> 3 (eval points every 0.1): rise,
    then hold, sag or collapse — both verdicts, and plateaus ending at different lrs."""
    lrs = np.round(np.linspace(0.1, 3.0, 30), 10)
    rise = np.minimum(0.1 + 1.2 * lrs, 0.7)
    rng = np.random.default_rng(0)
    return [
        ("rise to 70 %, hold to lr 1, then a slow fall to 35 %",
         lrs, np.where(lrs <= 1.0, rise, 0.7 - 0.35 * (lrs - 1.0) / 2.0)),
        ("rise to 70 % and hold to lr 3", lrs, rise),
        ("rise to 60 %, collapse to chance after lr 0.8",
         lrs, np.where(lrs <= 0.8, np.minimum(0.1 + 1.0 * lrs, 0.6), 0.1)),
        ("a slow rise, a noisy plateau from lr 1.2 to 2.6, then a fall",
         lrs, np.clip(np.where(lrs <= 2.6, 0.1 + 0.4 * lrs, 1.14 - 0.35 * lrs), 0.1, 0.55)
         + rng.normal(0, 0.01, lrs.size)),
        ("never trains: chance everywhere", lrs, 0.1 + rng.normal(0, 0.005, lrs.size)),
    ]


def plateau_verdict(fn: Callable[[np.ndarray, np.ndarray], Any], *,
                    name: str = "Super-convergence verdict") -> Result:
    """Check a learner's reading of an accuracy curve, ``fn(lrs, accuracy) -> True/False``:
    does a linear sweep 0 -> 3 with test accuracy ``accuracy`` (fractions) at eval points
    ``lrs`` super-converge under the indicator's default criteria (chance 10 %)? Compared with
    :func:`superconv_lib.indicator.analyse` on five synthetic curves, while the indicator's
    reading is switched off."""

    def compare() -> Result:
        for desc, lrs, acc in _curves():
            want = indicator.analyse(lrs, acc, max_lr=3.0).super_converges
            said = _yes_no(_call(fn, lrs.copy(), acc.copy()))
            if said != bool(want):
                return Result(name, False, f"on the curve '{desc}' you said "
                              f"{'yes' if said else 'no'}.", _PLATEAU_HINT)
        return Result(name, True, f"your verdict is right on all {len(_curves())} curves.")
    return _grade(name, compare, fn=fn, forbid=_INDICATOR_SHORTCUTS,
                  hint="it should take (lrs, accuracy) — two arrays — and return True "
                       "or False.")


def plateau_bounds(fn: Callable[[np.ndarray, np.ndarray], Any], *, factor: float = 1.5,
                   name: str = "1cycle bounds from an accuracy curve") -> Result:
    """Check a learner's choice of 1cycle bounds from an accuracy curve,
    ``fn(lrs, accuracy) -> (min_lr, max_lr)`` (a linear sweep 0 -> 3, accuracy as fractions):
    within ``factor`` of the indicator's suggested bounds on the synthetic curves that train
    (:func:`superconv_lib.indicator.analyse`), while the indicator's reading is switched off."""
    hints = ("max_lr is the largest lr still on the plateau (accuracy at or above the floor L); "
             "walk right from the best point.",
             "min_lr is where accuracy has clearly risen — half its gain over chance — kept "
             "between max_lr/30 and max_lr/4 so the cycle spans a factor 4 to 30.")

    def compare() -> Result:
        checked = 0
        for desc, lrs, acc in _curves():
            want = indicator.analyse(lrs, acc, max_lr=3.0).bounds
            if want is None:
                continue
            got = _call(fn, lrs.copy(), acc.copy())
            if not (isinstance(got, (tuple, list)) and len(got) == 2):
                raise _Broken(f"return a pair (min_lr, max_lr), got {_short(got)}")
            for k in (1, 0):
                value = _number(got[k], "an lr")
                res = _decade_result(name, value, want[k], factor, hints[k])
                if not res:
                    which = ("min_lr", "max_lr")[k]
                    return Result(name, False, f"on the curve '{desc}' your {which} "
                                  f"{res.message}", hints[k])
            checked += 1
        return Result(name, True, f"your bounds are within {factor:g}x on all {checked} "
                      "curves that train.")
    return _grade(name, compare, fn=fn, forbid=_INDICATOR_SHORTCUTS,
                  hint="it should take (lrs, accuracy) and return (min_lr, max_lr).")


def cycle_budget(fn: Callable[[int, int], Any], *,
                 name: str = "A budget that ends at a cycle's end") -> Result:
    """Check ``fn(stepsize_epochs, at_least_epochs) -> epochs``: the shortest run of whole
    epochs, at least ``at_least_epochs`` long, that stops at the end of a CLR cycle (a cycle is
    two stepsizes), for stepsizes of 1-10 epochs and several minimum budgets."""
    cases = [(2, 10), (4, 8), (3, 20), (5, 1), (10, 21), (1, 7), (8, 16), (6, 25)]

    def compare() -> Result:
        for s, least in cases:
            got = _number(_call(fn, s, least), "your budget")
            want = 2 * s * math.ceil(least / (2 * s))
            if got != want:
                if got < least:
                    hint = "the budget must be at least at_least_epochs long."
                elif got % (2 * s):
                    hint = ("a cycle is two stepsizes (up, then down): the lr is back at base_lr "
                            "after every 2·stepsize epochs, so the budget is a multiple of that.")
                else:
                    hint = "take the *shortest* such budget: round up to the next cycle end."
                return Result(name, False, f"for stepsize {s} epochs and at least "
                              f"{least} epochs you answered {_fmt(got)}.", hint)
        return Result(name, True, f"right for all {len(cases)} settings.")
    return _grade(name, compare, fn=fn,
                  hint="it should take (stepsize_epochs, at_least_epochs) and return "
                       "a whole number of epochs.")


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
            want = ref(s, *args)
            got = pick(_call(fn, s, *args))
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


# A CLR or 1cycle exercise must not call the library's schedules (or torch's).
_CLR_SHORTCUTS = (schedules.clr, torch.optim.lr_scheduler.CyclicLR)
_ONE_CYCLE_SHORTCUTS = (schedules.one_cycle, torch.optim.lr_scheduler.OneCycleLR, schedules.clr,
                        torch.optim.lr_scheduler.CyclicLR)


def _clr_check(fn: Callable, mode: str, title: str) -> Result:
    gamma_cases = mode == "exp_range"
    cases = [(0.001, 0.006, 2000), (0.1, 1.0, 5), (0.0, 3.0, 1), (0.01, 0.1, 7)]
    if gamma_cases:
        cases = [c + (g,) for c, g in zip(cases, (0.99994, 0.9, 0.8, 0.95))]
    policies: dict[tuple, Callable[[int], float]] = {}

    def ref(s, base, top, size, gamma=1.0):
        key = (base, top, size, gamma)
        if key not in policies:
            policies[key] = schedules.clr(base, top, size, mode=mode, gamma=gamma)
        return policies[key](s)

    def lr(s, args):  # the learner's value at another step of the same case
        return _number(_call(fn, s, *args), "your function's result")

    signature = "(step, base_lr, max_lr, step_size" + (", gamma)" if gamma_cases else ")")

    def compare() -> Result:
        bad = _mismatch(fn, ref, cases, lambda *a: _steps(a[2]))
        if bad is None:
            n = sum(len(_steps(c[2])) for c in cases)
            return Result(title, True, f"your schedule matches the reference at {n} "
                          f"iterations in {len(cases)} settings.")
        s, args, got = bad
        base, top, size = args[:3]
        where = (f"at step={s} (base_lr={base:g}, max_lr={top:g}, step_size={size}"
                 + (f", gamma={args[3]:g}" if gamma_cases else "")
                 + f") your lr is {_fmt(_number(got, 'lr'))}")
        if not math.isclose(lr(0, args), base, rel_tol=_REL, abs_tol=_ABS):
            hint = "a cycle starts at base_lr: at step 0 the lr is base_lr."
        elif mode != "exp_range" and not math.isclose(lr(size, args), top, rel_tol=_REL,
                                                      abs_tol=_ABS):
            hint = ("the lr reaches max_lr after step_size iterations (half a cycle); steps "
                    "count from 0, so look for an off-by-one.")
        elif not math.isclose(lr(2 * size, args), ref(2 * size, *args), rel_tol=_REL,
                              abs_tol=_ABS):
            hint = "one cycle lasts 2·step_size iterations: then the lr is back at its lowest."
        elif s >= 2 * size and mode == "triangular2":
            hint = ("the first cycle is right; after each full cycle the amplitude "
                    "(max_lr − base_lr) halves: scale it by 1/2**(cycle − 1).")
        elif mode == "exp_range":
            hint = ("the amplitude (max_lr − base_lr) shrinks by gamma every *iteration*: "
                    "scale it by gamma**step (step in iterations, not cycles).")
        elif s >= 2 * size:
            hint = "the first cycle is right; later cycles should repeat it exactly."
        else:
            hint = ("between its ends the lr moves on a straight line, up for step_size "
                    "iterations and down for the next step_size: where in its cycle is "
                    "iteration step (think step % (2·step_size))?")
        return Result(title, False, f"{where}, which differs from the reference.", hint)
    return _grade(title, compare, fn=fn, forbid=_CLR_SHORTCUTS,
                  hint=f"it should take {signature} and return the lr as a number.")


def triangular(fn: Callable[[int, float, float, int], float], *,
               name: str = "Triangular CLR") -> Result:
    """Check a learner's triangular CLR policy ``fn(step, base_lr, max_lr, step_size) -> lr``
    (Smith 2015; ``step`` and ``step_size`` — the paper's *stepsize*, half a cycle — in
    iterations) against :func:`superconv_lib.schedules.clr` at every corner of three cycles and
    at random iterations, for four settings including ``step_size=1``; ``schedules.clr`` and
    torch's ``CyclicLR`` are switched off while ``fn`` runs."""
    return _clr_check(fn, "triangular", name)


def triangular2(fn: Callable[[int, float, float, int], float], *,
                name: str = "Triangular2 CLR") -> Result:
    """Like :func:`triangular` for the ``"triangular2"`` policy (the amplitude halves after
    every cycle)."""
    return _clr_check(fn, "triangular2", name)


def exp_range(fn: Callable[[int, float, float, int, float], float], *,
              name: str = "exp_range CLR") -> Result:
    """Check a learner's ``exp_range`` CLR policy ``fn(step, base_lr, max_lr, step_size, gamma)``
    (amplitude times ``gamma ** step``, step in iterations) against
    :func:`superconv_lib.schedules.clr`."""
    return _clr_check(fn, "exp_range", name)


def one_cycle(fn: Callable[[int, int, float], Any], *, div: float = 10.0,
              pct_start: float = 0.45, pct_anneal: float = 0.1, final_div: float = 100.0,
              moms: tuple[float, float] = (0.95, 0.85), momentum: bool = True,
              name: str = "") -> Result:
    """Check a learner's 1cycle policy ``fn(step, total_steps, max_lr)`` against
    :func:`superconv_lib.schedules.one_cycle` (linear legs) with the given settings.

    ``fn`` returns ``(lr, momentum)`` (cyclical momentum), or only the lr when
    ``momentum=False``. ``step`` runs from 0 to ``total_steps`` inclusive: the reference is
    ``schedules.one_cycle(total_steps + 1, max_lr, …)(step)``, a run of ``total_steps + 1``
    iterations. Checked at every iteration of runs whose phase boundaries fall on whole
    iterations, with ``schedules.one_cycle`` and torch's ``OneCycleLR`` switched off while
    ``fn`` runs.
    """
    title = name or ("1cycle" + (" with cyclical momentum" if momentum else ""))
    # Totals for which pct_start*T and (1 - pct_anneal)*T are (nearly) whole iterations, so
    # that learners' int()/round() choices at the boundaries don't matter.
    totals = [t for t in range(20, 2001) if all(abs(x * t - round(x * t)) < 1e-9
                                                  for x in (pct_start, 1 - pct_anneal))]
    totals = (totals[:1] + totals[len(totals) // 3: len(totals) // 3 + 1] + totals[-1:]) or [100]
    cases = [(t, m) for t, m in zip(totals, (1.0, 0.1, 3.0))]
    kw = dict(div=div, pct_start=pct_start, pct_anneal=pct_anneal, final_div=final_div, moms=moms)
    runs = {(t, m): schedules.one_cycle(t + 1, m, **kw) for t, m in cases}

    def ref(s, t, m):
        lr, mom = runs[t, m](s)
        return (lr, mom) if momentum else lr

    def pick(v):
        if momentum:
            return v
        return v[0] if isinstance(v, (tuple, list)) else v

    def compare() -> Result:
        first = _call(fn, 0, *cases[0])
        if momentum and not (isinstance(first, (tuple, list)) and len(first) == 2):
            return Result(title, False, f"your function returned {_short(first)}.",
                          "return a pair (lr, momentum): momentum cycles opposite "
                          "to the lr.")
        bad = _mismatch(fn, ref, cases, lambda t, m: range(t + 1), pick)
        if bad is None:
            n = sum(t + 1 for t, _ in cases)
            return Result(title, True, f"your schedule matches the reference at all "
                          f"{n} iterations of {len(cases)} runs.")
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
        return Result(title, False, f"the {what} differs from the reference at "
                      f"step={s} (total_steps={t}, max_lr={m:g}); you returned "
                      f"({shown}).", hint)
    return _grade(title, compare, fn=fn, forbid=_ONE_CYCLE_SHORTCUTS,
                  hint="it should take (step, total_steps, max_lr) and return "
                       + ("(lr, momentum)." if momentum else "the lr."))


# ---------------------------------------------------------------------------------------------
# The Hessian-free optimal learning rate
# ---------------------------------------------------------------------------------------------

_ESTIMATE_SHORTCUTS = (hessian.estimate, hessian.per_weight_estimate,
                       *_present(hessian, "_sums", "_ratio"))


def hessian_estimate(fn: Callable[..., Any], *, name: str = "Hessian-free optimal lr") -> Result:
    """Check a learner's Hessian-free estimate ``fn(theta0, theta1, theta2, lr) -> ε*``.

    ``theta0..2`` are three consecutive iterates (1-D float64 torch tensors), ``lr`` the
    learning rate of the two steps between them. Checked first on f(θ) = a·θ²/2 trained with
    plain SGD, where the answer is exactly 1/a whatever the lr, then on a 3-D quadratic and on
    random snapshots against :func:`superconv_lib.hessian.estimate` (switched off while ``fn``
    runs).
    """

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
    cases = [(d, th, lr, hessian.estimate(*th, lr) if want is None else want)
             for d, th, lr, want in cases]

    def compare() -> Result:
        for k, (desc, th, lr, want) in enumerate(cases):
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
                    hint = ("on f = a·θ²/2 the answer must be exactly 1/a: the numerator "
                            "measures the first step θ1 − θ0, the denominator how the step "
                            "changed, 2θ1 − θ0 − θ2.")
            else:
                hint = ("the scalar quadratics pass: with many weights, sum the absolute "
                        "values over all weights first and divide the two sums (a ratio of "
                        "sums, not a sum or mean of per-weight ratios).")
            return Result(name, False, f"on {desc} your estimate is {_fmt(got)}, "
                          f"which is {'too high' if got > want else 'too low'}.", hint)
        return Result(name, True, f"your estimate matches on all {len(cases)} cases, "
                      "including 1/a on the quadratics.")
    return _grade(name, compare, fn=fn, forbid=_ESTIMATE_SHORTCUTS,
                  hint="it should take (theta0, theta1, theta2, lr) — three tensors of "
                       "weights and a number — and return a number.")


# ---------------------------------------------------------------------------------------------
# 06 · the dip of a very-high-LR run
# ---------------------------------------------------------------------------------------------

def _largest_dip_ref(acc: Sequence[float]) -> float:
    best, dip = -math.inf, 0.0
    for a in acc:
        best = max(best, a)
        dip = max(dip, best - a)
    return dip


_DIP_CASES: list[list[float]] = [
    [0.1, 0.3, 0.5, 0.7],                       # only rises: no dip
    [0.42],                                     # one evaluation
    [0.2, 0.5, 0.3, 0.6, 0.8],                  # one dip, then recovery
    [0.6, 0.2, 0.9, 0.85],                      # early deep dip, a small one later
    [0.3, 0.7, 0.65, 0.75, 0.4],                # the deepest dip is the last point
    [0.9, 0.1, 0.2, 0.3],                       # falls below the *first* value
    [0.5, 0.5, 0.5],                            # flat
    [0.2, 0.8, 0.6, 0.9, 0.1, 0.95],            # two dips: the second is deeper
]


def largest_dip(fn: Callable[[Sequence[float]], Any], *,
                name: str = "Largest dip of an accuracy curve") -> Result:
    """Check a learner's ``fn(accuracy) -> drop``: the largest fall of an accuracy curve (one value
    per evaluation) below the best value it had reached *before* that point — the "gets worse"
    of a very-high-LR run (EPFL's 0.1 -> 3 row), in the curve's own units; 0 for a curve that
    never falls. Compared with the reference on hand-made curves (monotone, flat, one point, a
    dip at the end, a fall below the first value, two dips) and on 30 seeded random walks."""
    rng = random.Random(0)
    walks = []
    for _ in range(30):
        a, walk = rng.uniform(0.1, 0.5), []
        for _ in range(rng.randint(2, 25)):
            a = min(1.0, max(0.0, a + rng.gauss(0.02, 0.08)))
            walk.append(round(a, 4))
        walks.append(walk)

    def compare() -> Result:
        for curve in _DIP_CASES + walks:
            got = _number(_call(fn, list(curve)), "your function's result")
            want = _largest_dip_ref(curve)
            if math.isclose(got, want, rel_tol=_REL, abs_tol=_ABS):
                continue
            if want == 0:
                hint = "a curve that never falls below its best so far has no dip: return 0."
            elif math.isclose(got, max(curve) - min(curve), rel_tol=_REL, abs_tol=_ABS):
                hint = ("max − min is not the dip: the low point must come *after* the best value "
                        "it is measured from. Keep the best value seen so far as you walk the "
                        "curve.")
            elif math.isclose(got, curve[0] - min(curve), rel_tol=_REL, abs_tol=_ABS):
                hint = ("measure from the best value reached so far, not from the first one: "
                        "the curve usually rises before it dips.")
            elif got < 0:
                hint = "a dip is a drop: best-so-far minus the current value, never negative."
            else:
                hint = ("walk the curve once, keeping the best value so far; the dip at each "
                        "point is best-so-far − value; return the largest.")
            return Result(name, False, f"for the curve {_short(curve)} your dip is "
                          f"{_fmt(got)}, which differs from the reference.", hint)
        return Result(name, True, f"your dip matches the reference on "
                      f"{len(_DIP_CASES) + len(walks)} curves.")
    return _grade(name, compare, fn=fn, forbid=(_largest_dip_ref,),
                  hint="it should take a list of accuracies and return one number.")


# ---------------------------------------------------------------------------------------------
# 07 · the noise scale that ties lr, batch size and momentum together
# ---------------------------------------------------------------------------------------------

def _noise_ref(lr: float, batch: int, momentum: float, n: int) -> float:
    return lr * n / (batch * (1 - momentum))


def noise_scale(fn: Callable[[float, int, float, int], Any], *,
                name: str = "SGD noise scale") -> Result:
    """Check a learner's ``fn(lr, batch_size, momentum, n_train)``: the scale of SGD's gradient
    noise, ``lr · N / (B · (1 − m))`` (Smith & Le 2018, with momentum as in Smith et al. 2018,
    *Don't decay the learning rate, increase the batch size*): the quantity Smith (2018) asks to
    keep balanced when the lr, the batch size or the momentum change. Compared at hand-picked
    and 40 seeded random settings (relative tolerance 1e-9)."""
    rng = random.Random(0)
    cases = [(0.1, 128, 0.9, 50_000), (3.0, 1000, 0.9, 50_000), (1.0, 256, 0.0, 60_000),
             (0.35, 1536, 0.95, 50_000), (0.01, 64, 0.85, 10_000)]
    cases += [(10 ** rng.uniform(-3, 0.5), rng.choice([32, 64, 128, 256, 512, 1536]),
               rng.choice([0.0, 0.8, 0.85, 0.9, 0.95]), rng.choice([2000, 10_000, 60_000]))
              for _ in range(40)]

    def compare() -> Result:
        for lr, b, m, n in cases:
            got = _number(_call(fn, lr, b, m, n), "your function's result")
            want = _noise_ref(lr, b, m, n)
            if math.isclose(got, want, rel_tol=1e-9):
                continue
            if math.isclose(got, lr * n / b, rel_tol=1e-9) and m:
                hint = ("momentum m carries each gradient into the next steps: the effective step "
                        "is lr / (1 − m), and the noise grows with it.")
            elif math.isclose(got, lr * n * b / (1 - m), rel_tol=1e-9) or \
                    math.isclose(got, lr * b / (n * (1 - m)), rel_tol=1e-9):
                hint = ("a larger batch averages more per-example gradients, so its noise is "
                        "*smaller*: the batch size divides; the training-set size N multiplies.")
            elif math.isclose(got, lr * n / (b * m), rel_tol=1e-9) if m else False:
                hint = "the effective step is lr / (1 − m), not lr / m."
            else:
                hint = "g = lr · N / (B · (1 − m)): lr and N multiply, B and (1 − m) divide."
            return Result(name, False, f"for lr={lr:.4g}, batch_size={b}, momentum={m:g}, "
                          f"n_train={n} your noise scale is {_fmt(got)}, which differs "
                          f"from the reference.", hint)
        return Result(name, True, f"your noise scale matches the reference at "
                      f"{len(cases)} settings.")
    return _grade(name, compare, fn=fn, forbid=(_noise_ref,),
                  hint="it should take (lr, batch_size, momentum, n_train) and return a "
                       "number.")


# ---------------------------------------------------------------------------------------------
# 07 · Smith & Topin's baseline schedule (Caffe "multistep")
# ---------------------------------------------------------------------------------------------

_MULTISTEP_SHORTCUTS = (schedules.piecewise, torch.optim.lr_scheduler.MultiStepLR)


def _multistep_ref(step: int, total_steps: int, base_lr: float) -> float:
    bounds = [5 * total_steps // 8, 7 * total_steps // 8]
    return schedules.piecewise(bounds, [base_lr, base_lr / 10, base_lr / 100])(step)


def multistep(fn: Callable[[int, int, float], Any], *,
              name: str = "Smith & Topin's multistep baseline") -> Result:
    """Check a learner's ``fn(step, total_steps, base_lr) -> lr``: Smith & Topin's baseline for
    every optimizer of their adaptive-methods figure — Caffe's ``multistep`` policy with
    ``stepvalue`` 50,000 and 70,000 of ``max_iter`` 80,000 and ``gamma`` 0.1, i.e. ``base_lr``
    until 5/8 of the run, ``base_lr / 10`` from there, ``base_lr / 100`` from 7/8 (Caffe switches
    *at* the step value; boundaries ``5·T // 8`` and ``7·T // 8``). Compared with
    :func:`schedules.piecewise` at every boundary (and its neighbours) and at seeded random
    iterations of four runs, 80,000 iterations among them; ``schedules.piecewise`` (and torch's
    ``MultiStepLR``) are switched off while ``fn`` runs."""
    rng = random.Random(0)
    runs = [(80_000, 0.35), (400, 0.0035), (96, 0.35), (16, 1.0)]

    def compare() -> Result:
        for total, base in runs:
            b1, b2 = 5 * total // 8, 7 * total // 8
            steps = sorted({0, b1 - 1, b1, b1 + 1, b2 - 1, b2, b2 + 1, total - 1,
                            *(rng.randrange(total) for _ in range(20))})
            for s in steps:
                got = _number(_call(fn, s, total, base), "your function's result")
                want = _multistep_ref(s, total, base)
                if math.isclose(got, want, rel_tol=_REL, abs_tol=_ABS):
                    continue
                if s in (b1, b2) and math.isclose(got, _multistep_ref(s - 1, total, base),
                                                  rel_tol=_REL):
                    hint = ("Caffe's multistep switches *at* the step value: iteration 50,000 of "
                            "80,000 already trains at base_lr / 10 (a strict < / >= question).")
                elif s < b1:
                    hint = "until 5/8 of the run the lr is base_lr itself."
                elif s < b2:
                    hint = ("from 5/8 of the run (50,000 of 80,000) the lr is base_lr × gamma, "
                            "gamma = 0.1.")
                else:
                    hint = "from 7/8 of the run (70,000 of 80,000) the lr is base_lr × 0.1²."
                return Result(name, False, f"at step={s} of total_steps={total} "
                              f"(base_lr={base:g}) your lr is {_fmt(got)}, which differs "
                              f"from the reference.", hint)
        return Result(name, True, "your schedule matches the reference at every "
                      "boundary and at random iterations of four runs.")
    return _grade(name, compare, fn=fn, forbid=_MULTISTEP_SHORTCUTS,
                  hint="it should take (step, total_steps, base_lr) and return the lr.")
