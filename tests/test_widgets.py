"""The panels' promises, checked without a browser (tests/browser/ clicks them in JupyterLab):
same settings give the same result and leave the notebook's state alone, a diverged run is one
line, every run shows progress, defaults follow the chosen sweep, labels say the run's length."""
from __future__ import annotations

import math
import random

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from superconv_lib import data, train  # noqa: E402
from superconv_lib.widgets import _base  # noqa: E402
from superconv_lib.widgets.range_test import range_test_panel  # noqa: E402
from superconv_lib.widgets.sweep import row_config  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _net() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(144, 10))


@pytest.fixture
def loader(tiny_data):
    x, y = tiny_data
    return data.Loader(x, y, batch_size=64, stats=((0.0,), (1.0,)))


def _slider():
    return _base.log_slider("lr", 0.1, 1e-3, 10.0)


def test_same_settings_same_result_and_the_notebook_state_is_untouched(loader):
    seen = []

    def run(lr):
        seen.append((torch.rand(2).tolist(), float(np.random.rand()), random.random(),
                     [tuple(yb[:4].tolist()) for _, (_, yb) in zip(range(2), loader)]))

    panel = _base.run_panel({"lr": _slider()}, run, loaders=[loader])
    torch.manual_seed(123)
    loader.epoch = 5
    state = torch.random.get_rng_state()
    panel.run_now()
    loader.epoch = 7                      # the notebook moved on between the clicks
    panel.run_now()
    assert seen[0] == seen[1], "the same settings gave different results"
    assert seen[0][3] == [tuple(yb[:4].tolist()) for _, (_, yb) in zip(range(2), data.Loader(
        loader.x, loader.y, 64, stats=loader.stats))], "runs start at epoch 0"
    assert loader.epoch == 7 and torch.equal(torch.random.get_rng_state(), state)


def test_a_diverged_run_is_one_line_with_its_loss_curve(loader, capsys):
    def run(lr):
        train.fit(_net(), loader, steps=20, lr=1e6, progress=False)

    panel = _base.run_panel({"lr": _slider()}, run)
    panel.run_now()
    status = panel.parts["status"].value
    assert status.count("Diverged</b> at iteration") == 1 and "lr 1e+06" in status
    assert "Traceback" not in capsys.readouterr().out + capsys.readouterr().err
    assert panel.parts["progress"].bar_style == "danger"
    assert not panel.parts["button"].disabled and panel.parts["button"].description == "Run"


def test_a_bad_setting_is_one_line_and_a_bug_keeps_its_traceback(capsys):
    def bad(lr):
        raise ValueError("end_lr must be > start_lr")

    panel = _base.run_panel({"lr": _slider()}, bad)
    panel.run_now()
    assert panel.parts["status"].value.endswith("end_lr must be > start_lr")
    assert "Traceback" not in capsys.readouterr().err

    def bug(lr):
        return 1 / 0

    panel = _base.run_panel({"lr": _slider()}, bug)
    panel.run_now()
    assert "ZeroDivisionError" in panel.parts["status"].value
    assert "Traceback" in capsys.readouterr().err


def test_every_run_shows_progress_also_in_quick_mode(loader, monkeypatch):
    monkeypatch.setenv("SUPERCONV_QUICK", "1")           # where fit's own bar is off
    counts = []

    def run(lr):
        train.fit(_net(), loader, steps=12, lr=lr, label="tiny")
        counts.append((panel.parts["progress"].value, panel.parts["progress"].max,
                       panel.parts["note"].value))

    panel = _base.run_panel({"lr": _slider()}, run, loaders=[loader])
    panel.run_now()
    value, top, note = counts[0]
    assert (value, top) == (12, 12) and note.startswith("tiny: 12/12 iterations")
    final = panel.parts["note"].value
    assert final.startswith("tiny: 12/12 iterations") and " · done in " in final
    assert panel.parts["progress"].bar_style == "success"
    assert train._progress(5, True, "x") is None                      # lent for the run only


def test_the_figure_is_shown_and_closed(loader, monkeypatch):
    shown = []
    monkeypatch.setattr(_base, "display", lambda obj: shown.append(obj))

    def run(lr):
        plt.plot([0, 1], [lr, lr])

    panel = _base.run_panel({"lr": _slider()}, run)
    panel.run_now()
    assert len(shown) == 1 and isinstance(shown[0], matplotlib.figure.Figure)
    assert plt.get_fignums() == [], "a figure left in pyplot would be drawn again by the backend"


def test_log_slider_keeps_its_value_on_the_grid():
    s = _base.log_slider("start lr", 1e-6, 1e-8, 1e-1)
    k = (math.log10(1e-6) - s.min) / s.step
    assert s.value == 1e-6 and abs(k - round(k)) < 1e-6 and 10 ** s.min >= 1e-8


def test_range_test_panel_end_lr_follows_the_sweep(loader):
    setups = {"tiny": (_net, loader, None), "other": (_net, loader, None)}
    panel = range_test_panel(setups, linear_end={"tiny": 0.2, "other": 3.0})
    c = panel.controls
    assert (c["mode"].value, c["end_lr"].value, c["start_lr"].disabled) == ("exp", 10.0, False)
    c["mode"].value = "linear"
    assert c["end_lr"].value == pytest.approx(0.2) and c["start_lr"].disabled
    c["setup"].value = "other"
    assert c["end_lr"].value == pytest.approx(3.0)
    c["mode"].value = "exp"
    assert c["end_lr"].value == 10.0 and not c["start_lr"].disabled
    assert c["setup"].style.description_width == "initial"          # "data / model", not cut
    with pytest.raises(ValueError, match="linear_end"):
        range_test_panel(setups, linear_end={"tiny": 0.2})


def test_a_shortened_row_says_its_length():
    rows = [{"name": "0.1-3 | 90ep", "epochs": 90, "target": 0.8, "model": "resnet8"}]
    assert row_config(rows, 0, 90)["name"] == "0.1-3 | 90ep"
    short = row_config(rows, 0, 2, overrides={"epochs": 2})
    assert short["name"] == "0.1-3 | 90ep [2 ep]" and short["target"] is None
