"""Notebook 06's panel: pick one row of a grid, change its length, run it through the sweep.

Run calls ``sweep.run_sweep([config], out_dir)`` — the same call the notebook's cells make — so a
row that was already run (same config hash) comes back from disk at once, and a new one lands in
the same ``results.csv``. The preview is ``plots.sweep_schedules`` of the chosen row.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import ipywidgets as w

from .. import plots, sweep
from ._base import run_panel

__all__ = ["grid_panel", "row_config"]


def row_config(configs: Sequence[Mapping], row: int, epochs: float,
               overrides: Mapping | None = None) -> dict:
    """Config ``row`` of ``configs`` with ``overrides`` applied and its length set to ``epochs``
    (a config given in iterations is switched to epochs). When that is not the row's own length
    (the paper's, before ``overrides``), the name says how long this run is — "Adam 1e-3
    [2 ep]" — and the paper's target is dropped: it belongs to the paper's length."""
    if not 0 <= row < len(configs):
        raise ValueError(f"row must be in 0..{len(configs) - 1}, got {row}.")
    if not epochs > 0:
        raise ValueError(f"epochs must be > 0, got {epochs}.")
    paper = sweep.normalize_config(configs[row])
    cfg = {**configs[row], **(overrides or {}), "epochs": float(epochs), "steps": None}
    if paper["epochs"] != float(epochs):
        cfg["name"] = f"{paper['name']} [{epochs:g} ep]"
        cfg["target"] = None
    return cfg


def grid_panel(configs: Sequence[Mapping], out_dir: "str | Path", *, epochs: float | None = None,
               overrides: Mapping | None = None, runner: str = "local", max_epochs: int = 100):
    """Controls: which row of ``configs`` and how many **epochs**; Run trains it with
    ``sweep.run_sweep`` into ``out_dir`` (``runner`` "local" or "ray") and shows the results table
    and the curves. ``overrides`` are applied to every row (e.g. the notebook's quick-mode sizes);
    ``epochs`` is the slider's start value (default: the first row's own length)."""
    if not configs:
        raise ValueError("grid_panel needs at least one config.")
    names = [sweep.normalize_config(c)["name"] for c in configs]
    first = sweep.normalize_config({**configs[0], **(overrides or {})})
    start = epochs if epochs is not None else (first["epochs"] or 1.0)
    controls = {
        "row": w.Dropdown(options=[(n, i) for i, n in enumerate(names)], value=0,
                          description="row", layout=w.Layout(width="420px")),
        "epochs": w.FloatSlider(float(start), min=0.5, max=float(max_epochs), step=0.5,
                                description="epochs", continuous_update=False),
    }

    def preview(row, epochs):
        ax_lr, _ = plots.sweep_schedules(sweep.schedule_curves(
            [row_config(configs, row, epochs, overrides)]))
        ax_lr.figure.set_size_inches(11, 2.6)

    def run(row, epochs):
        cfg = row_config(configs, row, epochs, overrides)
        rows = sweep.run_sweep([cfg], out_dir, runner=runner)
        print(sweep.format_results(rows))
        plots.sweep_curves(sweep.load_histories(out_dir, [cfg]), title=cfg["name"])

    return run_panel(controls, run, preview=preview,
                     title="Run one row of the grid (finished rows load from disk)")
