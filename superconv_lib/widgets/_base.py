"""Building blocks shared by every panel: a log-scale slider and a controls + Run + Output panel.

What every panel does the same way, so a learner can rely on it:

- **Same settings, same result.** Each Run starts from ``config.seed_everything(seed)`` and from
  the data order the panel was built with, and leaves the notebook's random state and loaders as
  it found them (a click in a panel never changes what the cells below compute).
- **You see that it works.** Run clears the previous result at once and shows a progress bar,
  fed by every ``train.fit`` the run makes (iterations done / total, the last loss).
- **A failed run is a result, not a crash.** A diverged run (``train.TrainingDiverged``) or a bad
  setting (``ValueError``) is one line in the panel; the loss curve of a diverged run is drawn.
"""
from __future__ import annotations

import contextlib
import math
import random
import time
import traceback
from typing import Callable, Iterable, Mapping

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display

from .. import config, plots, train
from ..data import Loader

__all__ = ["log_slider", "run_panel", "PanelProgress"]

# CSS classes on the panel's parts: a stable handle for the browser tests (tests/browser/).
CLASSES = {"panel": "superconv-panel", "run": "superconv-run", "result": "superconv-result",
           "progress": "superconv-progress", "note": "superconv-note",
           "status": "superconv-status"}


def log_slider(description: str, value: float, low: float, high: float, *, steps: int = 60):
    """A slider over learning rates spanning decades: ``low``..``high`` on a log10 scale.

    The grid of ``steps`` positions over the range includes ``value`` exactly, so the slider in
    the browser shows the value it was given instead of the nearest grid point."""
    if not (0 < low < high) or not (low <= value <= high):
        raise ValueError(f"log_slider needs 0 < low <= value <= high; got {low}, {value}, {high}.")
    lo, hi, v = math.log10(low), math.log10(high), math.log10(value)
    step = (hi - lo) / steps
    lo = v - math.floor((v - lo) / step + 1e-9) * step      # shift the grid onto the value
    return w.FloatLogSlider(value=value, base=10, min=lo, max=hi, step=step,
                            description=description, readout_format=".2e",
                            continuous_update=False, style={"description_width": "initial"})


class PanelProgress:
    """What ``train.fit`` drives while a panel runs: ``update(n)``, ``set_postfix(**values)`` and
    ``close()`` (tqdm's interface) over an ``IntProgress`` and a one-line note."""

    def __init__(self, bar: "w.IntProgress", note: "w.HTML", steps: int, label: str, run: int):
        self.bar, self.note, self.label, self.run = bar, note, label or "training", run
        self.start, self.postfix = time.perf_counter(), ""
        bar.max, bar.value, bar.bar_style = max(1, steps), 0, "info"
        bar.layout.visibility = "visible"
        self._show()

    def _show(self) -> None:
        secs = time.perf_counter() - self.start
        run = f"run {self.run}: " if self.run > 1 else ""
        self.note.value = (f"{run}{self.label}: {self.bar.value}/{self.bar.max} iterations, "
                           f"{secs:.0f} s{self.postfix}")

    def update(self, n: int = 1) -> None:
        self.bar.value = min(self.bar.max, self.bar.value + int(n))
        self._show()

    def set_postfix(self, refresh: bool = True, **values) -> None:
        self.postfix = "".join(f", {k} {v}" for k, v in values.items())
        self._show()

    def close(self) -> None:
        self._show()


def _progress_into(bar: "w.IntProgress", note: "w.HTML"):
    """While the block runs, every ``train.fit`` of this thread reports to ``bar`` and ``note``
    (one :class:`PanelProgress` per fit, numbered) — also in quick mode, where fit's own tqdm bar
    is off. Built on :func:`train.progress_to`."""
    count = [0]

    def make_bar(steps: int, label: str) -> PanelProgress:
        count[0] += 1
        return PanelProgress(bar, note, steps, label, count[0])
    return train.progress_to(make_bar)


@contextlib.contextmanager
def _same_start(seed: int | None, loaders: Iterable[Loader], epochs: list[int]):
    """Seed every RNG and put ``loaders`` at ``epochs`` for the run; afterwards restore the RNG
    states and the loaders' epoch counters the notebook had."""
    loaders = list(loaders)
    saved = (random.getstate(), np.random.get_state(), torch.random.get_rng_state(),
             torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None,
             [ld.epoch for ld in loaders])
    if seed is not None:
        config.seed_everything(seed)
    for ld, e in zip(loaders, epochs):
        ld.epoch = e
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.random.set_rng_state(saved[2])
        if saved[3] is not None:
            torch.cuda.set_rng_state_all(saved[3])
        for ld, e in zip(loaders, saved[4]):
            ld.epoch = e


def _draw(fn: Callable[..., object], values: Mapping[str, object]) -> object:
    """Call ``fn(**values)`` and display the figures it drew; return what it returned.

    The figures are taken out of pyplot's registry before they are rendered, and are made with
    interactive mode off. JupyterLab runs widget messages in a kernel *subshell*, a second thread:
    after each message, matplotlib's inline backend renders every figure still open in pyplot. If
    that happens while this thread renders the same figure, the two share one Agg buffer and the
    learner gets a blank or half-drawn image (it did, on the first Run of a panel)."""
    before = set(plt.get_fignums())
    try:
        with plt.ioff():
            result = fn(**values)
    finally:
        figures = [plt.figure(n) for n in plt.get_fignums() if n not in before]
        for fig in figures:
            plt.close(fig)           # out of the registry: no other thread draws it now
    for fig in figures:
        display(fig)
    return result


def _failure(e: Exception) -> str | None:
    """One line for a failure a learner's settings can cause, or None for a real bug."""
    if isinstance(e, train.TrainingDiverged):
        return (f"<b style='color:#b00'>Diverged</b> at iteration {e.step} (lr {e.lr:.3g}): the "
                "loss became NaN or infinite. Lower the (maximum) learning rate, or lengthen the "
                "warm-up.")
    if isinstance(e, ValueError):
        return f"<b style='color:#b00'>Cannot run these settings:</b> {e}"
    return None


def run_panel(controls: Mapping[str, object], run: Callable[..., object], *,
              preview: Callable[..., object] | None = None, title: str = "",
              button: str = "Run", seed: int | None = 0, loaders: Iterable[Loader] = ()):
    """Lay out ``controls`` (name → widget) with a Run button, a progress bar and an Output.

    Clicking Run clears the previous result, then calls ``run(**values)`` with every control's
    current value inside the Output, so its prints and figures appear there; each
    ``train.fit`` it makes moves the progress bar. Every run starts from
    ``config.seed_everything(seed)`` (``None``: no seeding) with ``loaders`` at the epoch they had
    when the panel was built, and the notebook's RNG states and loader epochs are restored after
    it: the same settings give the same result. A diverged run or a ``ValueError`` is reported
    as one line (a diverged run's loss curve is drawn); any other error also prints its
    traceback. ``preview(**values)``, if given, is redrawn whenever a control changes (e.g. the
    schedule plot); it should be cheap. Returns the ``VBox`` (display it as the cell's last
    expression); it keeps ``panel.run_now()`` for tests, ``panel.values()``, ``panel.controls``
    and ``panel.parts`` (its button, progress bar, note, status line and output areas).
    """
    loaders = list(loaders)
    epochs = [ld.epoch for ld in loaders]
    out = w.Output()
    live = w.Output()
    btn = w.Button(description=button, button_style="primary", icon="play")
    status = w.HTML()
    bar = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(visibility="hidden",
                                                               width="240px"))
    note = w.HTML()
    for widget, key in ((out, "result"), (btn, "run"), (bar, "progress"), (note, "note"),
                        (status, "status")):
        widget.add_class(CLASSES[key])
    for c in controls.values():          # a label is never cut short ("data / mo…")
        style = getattr(c, "style", None)
        if style is not None and hasattr(style, "description_width"):
            style.description_width = "initial"

    def values() -> dict:
        return {k: c.value for k, c in controls.items()}

    def _show(area, fn, what: str, clear_wait: bool) -> bool:
        area.clear_output(wait=clear_wait)
        with area:
            try:
                result = _draw(fn, values())
                if result is not None and not isinstance(result, (tuple, list)):
                    display(result)
            except Exception as e:  # the learner sees the message in the panel
                line = _failure(e)
                status.value = line or (f"<b style='color:#b00'>{what} failed:</b> "
                                        f"{type(e).__name__}: {e}")
                if isinstance(e, train.TrainingDiverged) and e.history.loss:
                    _draw(lambda: plots.losses({"diverged run": e.history},
                                               title="the loss until it diverged"), {})
                elif line is None:
                    traceback.print_exc()
                return False
        return True

    def on_run(_=None) -> None:
        btn.disabled, btn.description, btn.icon = True, "Running…", "hourglass-half"
        status.value, note.value = "", "starting…"
        bar.value, bar.bar_style = 0, "info"
        bar.layout.visibility = "visible"
        start = time.perf_counter()
        ok = False
        try:
            out.clear_output()          # the old result goes at once: nothing stale on screen
            with _progress_into(bar, note), _same_start(seed, loaders, epochs):
                ok = _show(out, run, "Run", clear_wait=False)
        finally:
            btn.disabled, btn.description, btn.icon = False, button, "play"
            bar.bar_style = "success" if ok else "danger"
            if ok:
                bar.value = bar.max
                # keep what the bar counted ("label: k/N iterations") beside the time
                counted = note.value if "iterations" in note.value else ""
                note.value = f"{counted} · done in {time.perf_counter() - start:.1f} s".lstrip(" ·")

    btn.on_click(on_run)
    if preview is not None:
        for c in controls.values():
            c.observe(lambda _change: _show(live, preview, "Preview", clear_wait=True),
                      names="value")
        _show(live, preview, "Preview", clear_wait=True)
    items = list(controls.values())
    children = ([w.HTML(f"<b>{title}</b>")] if title else []) + [
        *[w.HBox(items[i:i + 3]) for i in range(0, len(items), 3)],
        w.HBox([btn, status, bar, note]), live, out]
    box = w.VBox(children)
    box.add_class(CLASSES["panel"])
    box.run_now, box.values, box.controls = on_run, values, dict(controls)
    box.parts = {"button": btn, "progress": bar, "note": note, "status": status, "result": out,
                 "preview": live}
    return box
