"""Building blocks shared by every panel: a log-scale slider and a controls + Run + Output panel."""
from __future__ import annotations

import traceback
from typing import Callable, Mapping

__all__ = ["log_slider", "run_panel"]


def log_slider(description: str, value: float, low: float, high: float, *, steps: int = 60):
    """A slider over learning rates spanning decades: ``low``..``high`` on a log10 scale."""
    import math
    import ipywidgets as w
    if not (0 < low < high) or not (low <= value <= high):
        raise ValueError(f"log_slider needs 0 < low <= value <= high; got {low}, {value}, {high}.")
    step = (math.log10(high) - math.log10(low)) / steps
    return w.FloatLogSlider(value=value, base=10, min=math.log10(low), max=math.log10(high),
                            step=step, description=description, readout_format=".2e",
                            continuous_update=False, style={"description_width": "initial"})


def run_panel(controls: Mapping[str, object], run: Callable[..., object], *,
              preview: Callable[..., object] | None = None, title: str = "",
              button: str = "Run"):
    """Lay out ``controls`` (name → widget) with a Run button and an Output area.

    Clicking Run calls ``run(**values)`` with every control's current value, inside the Output,
    so its prints and figures appear there. ``preview(**values)``, if given, is redrawn live
    whenever a control changes (e.g. the schedule plot) — it should be cheap. Errors are shown in
    the Output, not lost. Returns the ``VBox`` (display it as the cell's last expression); the panel
    keeps ``panel.run_now()`` for tests and ``panel.values()``.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    out = w.Output()
    live = w.Output()
    btn = w.Button(description=button, button_style="primary", icon="play")
    status = w.HTML()

    def values() -> dict:
        return {k: c.value for k, c in controls.items()}

    def _show(area, fn, what: str) -> None:
        area.clear_output(wait=True)
        with area:
            try:
                result = fn(**values())
                if result is not None and not isinstance(result, (tuple, list)):
                    display(result)
                plt.show()
            except Exception as e:  # the learner sees the message in the panel
                status.value = f"<b style='color:#b00'>{what} failed:</b> {type(e).__name__}: {e}"
                traceback.print_exc()
                return
        status.value = ""

    def on_run(_=None) -> None:
        btn.disabled, btn.description = True, "Running…"
        try:
            _show(out, run, "Run")
        finally:
            btn.disabled, btn.description = False, button

    btn.on_click(on_run)
    if preview is not None:
        for c in controls.values():
            c.observe(lambda _change: _show(live, preview, "Preview"), names="value")
        _show(live, preview, "Preview")
    children = ([w.HTML(f"<b>{title}</b>")] if title else []) + [
        w.HBox(list(controls.values())[:3]), *[w.HBox(list(controls.values())[i:i + 3])
                                               for i in range(3, len(controls), 3)],
        w.HBox([btn, status]), live, out]
    box = w.VBox(children)
    box.run_now, box.values = on_run, values
    return box
