"""One check per kind of value, shared by every public entry point.

Each check takes the value, the argument's ``name`` and the function's name ``fn`` (``""``: the
message starts with the argument), returns the value in its canonical type, or raises a
``ValueError`` that names the argument and says what to change. ``True`` is never a number here,
a string never one either, and ``inf``/``nan`` fail every range check — ``x > 0`` alone lets
``inf`` through, so each check also asks for a finite value.

The per-iteration checks (:func:`step_lr`, :func:`step_momentum`) are for the training loop and
``Scheduled``: a comparison or two when the value is good, a message only when it is not.
"""
from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Mapping
from typing import Any, Sequence

_INF = math.inf

__all__ = ["real", "finite", "positive", "non_negative", "at_least", "momentum", "fraction",
           "integer", "named_runs", "step_lr", "step_momentum"]


def _who(fn: str, name: str) -> str:
    return f"{fn}: {name}" if fn else name


def real(value: Any, name: str, fn: str = "") -> float:
    """``value`` as a float, refusing bools, strings, ``None`` and anything that is not a real
    number (NumPy numbers are fine). Infinite and NaN values pass: see :func:`finite`."""
    if type(value) is float:  # the common case, fast: schedules check their arguments per call
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{_who(fn, name)} must be a number, got {type(value).__name__} "
                         f"{value!r:.60}" + ("; write it without quotes" if isinstance(value, str)
                                             else "") + ".")
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range
        raise ValueError(f"{_who(fn, name)} must be a finite number, got an integer with "
                         f"{len(str(abs(int(value))))} digits.") from None


def _not_finite(x: float, name: str, fn: str, hint: str) -> None:
    if not math.isfinite(x):
        raise ValueError(f"{_who(fn, name)} must be a finite number (got {x!r}){hint}.")


def finite(value: Any, name: str, fn: str = "", hint: str = "") -> float:
    """A finite real number."""
    x = value if type(value) is float else real(value, name, fn)
    if -_INF < x < _INF:
        return x
    raise ValueError(f"{_who(fn, name)} must be a finite number (got {x!r}){hint}.")


def positive(value: Any, name: str, fn: str = "", hint: str = "") -> float:
    """A finite number > 0 (a learning rate's upper end, a decay rate, a divisor)."""
    x = value if type(value) is float else real(value, name, fn)
    if 0 < x < _INF:
        return x
    _not_finite(x, name, fn, hint)
    raise ValueError(f"{_who(fn, name)} must be > 0 (got {x!r}){hint}.")


def non_negative(value: Any, name: str, fn: str = "", hint: str = "") -> float:
    """A finite number >= 0 (a learning rate that may start at 0, a weight decay)."""
    x = value if type(value) is float else real(value, name, fn)
    if 0 <= x < _INF:
        return x
    _not_finite(x, name, fn, hint)
    raise ValueError(f"{_who(fn, name)} must be >= 0 (got {x!r}){hint}.")


def at_least(value: Any, name: str, low: float, fn: str = "", hint: str = "") -> float:
    """A finite number >= ``low``."""
    x = value if type(value) is float else real(value, name, fn)
    if low <= x < _INF:
        return x
    _not_finite(x, name, fn, hint)
    raise ValueError(f"{_who(fn, name)} must be >= {low:g} (got {x!r}){hint}.")


def momentum(value: Any, name: str = "momentum", fn: str = "") -> float:
    """A momentum (or Adam's beta1) in [0, 1): 1 never forgets a gradient, above 1 diverges."""
    x = value if type(value) is float else real(value, name, fn)
    if 0 <= x < 1:  # also false for NaN
        return x
    raise ValueError(f"{_who(fn, name)} must be in [0, 1) (got {x!r}); typical momenta are "
                     "0.85 to 0.95.")


def fraction(value: Any, name: str, fn: str = "", what: str = "") -> float:
    """A fraction in [0, 1)."""
    x = value if type(value) is float else real(value, name, fn)
    if 0 <= x < 1:
        return x
    raise ValueError(f"{_who(fn, name)} must be in [0, 1){what} (got {x!r}).")


def integer(value: Any, name: str, fn: str = "", minimum: int | None = None,
            unit: str = "") -> int:
    """A Python or NumPy integer (not a bool, not ``3.0``, not ``"3"``), optionally >= ``minimum``.
    ``unit`` goes into the message, e.g. ``"iterations"``."""
    if type(value) is not int:
        what = f"an integer number of {unit}" if unit else "an integer"
        if isinstance(value, bool):
            raise ValueError(f"{_who(fn, name)} must be {what} (got {value!r}).")
        try:
            value = operator.index(value)
        except TypeError:
            raise ValueError(f"{_who(fn, name)} must be {what} (got {value!r:.60}); pass e.g. "
                             f"int({name}).") from None
    if minimum is not None and value < minimum:
        raise ValueError(f"{_who(fn, name)} must be >= {minimum}{' ' + unit if unit else ''} "
                         f"(got {value}).")
    return value


def named_runs(runs: Any, what: str = "History", labels: Sequence[str] | None = None,
               unnamed: str = "run") -> list[tuple[str, Any]]:
    """``{label: run}`` or a list of runs (named by their ``label``, else ``"<unnamed> k"``) ->
    ``[(label, run), ...]``; ``labels`` renames a list. The one way every table and figure of
    several runs (histories, indicators, Hessian-free estimates) takes its argument."""
    if isinstance(runs, Mapping):
        items = list(runs.items())
    else:
        runs = list(runs)
        if labels is None:
            labels = [getattr(r, "label", "") or f"{unnamed} {i}" for i, r in enumerate(runs)]
        elif len(labels) != len(runs):
            raise ValueError(f"got {len(labels)} labels for {len(runs)} {what}s.")
        items = list(zip(labels, runs))
    if not items:
        raise ValueError(f"give at least one run: a dict {{label: {what}}} or a list of {what}s.")
    return items


# -------------------------------------------------------------------------------------------
# Per-iteration checks: the value a schedule produced, just before it is set on an optimizer.


def _float(value: Any, step: int, who: str, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError, RuntimeError):  # RuntimeError: a tensor of many
        raise ValueError(f"{who}: the {what} schedule gave {value!r:.60} at step {step}; it must "
                         "return a number.") from None


def step_lr(value: Any, step: int, who: str) -> float:
    """The lr a schedule gave at ``step``, as a float; a ValueError unless finite and >= 0."""
    if isinstance(value, (str, bytes, bool)) or value is None:
        raise ValueError(f"{who}: the learning-rate schedule gave {value!r:.60} at step {step}; "
                         "it must return a number.")
    x = _float(value, step, who, "learning-rate")
    if not 0 <= x < math.inf:  # also false for NaN
        raise ValueError(f"{who}: the learning-rate schedule gave lr={x} at step {step}; it must "
                         "be finite and >= 0. Check the schedule's arguments (and its formula).")
    return x


def step_momentum(value: Any, step: int, who: str) -> float:
    """The momentum a schedule gave at ``step``; a ValueError unless in [0, 1)."""
    if isinstance(value, (str, bytes, bool)) or value is None:
        raise ValueError(f"{who}: the momentum schedule gave {value!r:.60} at step {step}; it "
                         "must return a number.")
    x = _float(value, step, who, "momentum")
    if not 0 <= x < 1:  # also false for NaN
        raise ValueError(f"{who}: the momentum schedule gave momentum={x} at step {step}; it "
                         "must be in [0, 1) (typically 0.85 to 0.95).")
    return x
