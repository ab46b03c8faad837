"""plots: the figures show the numbers they claim to — checked on the plotted data arrays."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from superconv_lib import plots, schedules  # noqa: E402
from superconv_lib.train import EvalPoint, History  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _history(label: str, losses, accs=(), spe: int = 10, wall: float = 1.0) -> History:
    h = History(spe, label)
    h.loss = [float(v) for v in losses]
    h.lr = [0.1] * len(h.loss)
    h.momentum = [0.9] * len(h.loss)
    h.evals = [EvalPoint(spe * (i + 1), float(i + 1), 0.1, 1.0 - a, a) for i, a in enumerate(accs)]
    h.wall_time = wall
    return h


# --- schedule_overlay ---------------------------------------------------------------------------

def test_schedule_overlay_plots_each_clr_policy_exactly():
    fns = {mode: schedules.clr(0.01, 0.1, 5, mode=mode, gamma=0.9) for mode in schedules.CLR_MODES}
    ax = plots.schedule_overlay(fns, 40)
    assert [line.get_label() for line in ax.lines] == list(schedules.CLR_MODES)
    for line, fn in zip(ax.lines, fns.values()):
        np.testing.assert_array_equal(line.get_xdata(), np.arange(40))
        np.testing.assert_allclose(line.get_ydata(), [fn(s) for s in range(40)], rtol=0, atol=1e-15)
    tri, tri2, expr = (line.get_ydata() for line in ax.lines)
    # triangular peaks at max_lr every cycle; triangular2's second peak is half as high above base
    assert tri[5] == pytest.approx(0.1) and tri[15] == pytest.approx(0.1)
    assert tri2[15] == pytest.approx(0.01 + 0.09 / 2)
    assert expr[5] == pytest.approx(0.01 + 0.09 * 0.9 ** 5)
    assert ax.get_yscale() == "linear"            # 0.01..0.1 is one decade: stays linear
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "learning rate"


def test_schedule_overlay_momentum_epochs_and_log_axis():
    oc = schedules.one_cycle(101, max_lr=1.0)   # peak at step 45
    ax = plots.schedule_overlay({"1cycle": oc}, 101, steps_per_epoch=20)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [oc(s)[0] for s in range(101)])
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.arange(101) / 20)
    assert ax.get_yscale() == "log"               # 1.0 down to 1e-3: three decades
    assert ax.get_xlabel() == "epoch"
    ax = plots.schedule_overlay({"1cycle": oc, "const": lambda s: 0.9}, 101, what="momentum")
    mom = ax.lines[0].get_ydata()
    np.testing.assert_allclose(mom, [oc(s)[1] for s in range(101)])
    assert mom[0] == pytest.approx(0.95) and mom[45] == pytest.approx(0.85)
    assert mom.min() == pytest.approx(0.85) and mom[-1] == pytest.approx(0.95)
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), np.full(101, 0.9))
    assert ax.get_ylabel() == "momentum" and ax.get_yscale() == "linear"


def test_schedule_overlay_draws_on_given_axes_and_validates():
    fig, (ax,) = plots.new_axes()
    assert plots.schedule_overlay({"a": lambda s: 0.1}, 3, ax=ax, log=True) is ax
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="what"):
        plots.schedule_overlay({"a": lambda s: 0.1}, 3, what="mom")
    with pytest.raises(ValueError, match="steps"):
        plots.schedule_overlay({"a": lambda s: 0.1}, 0)
    with pytest.raises(ValueError, match="empty"):
        plots.schedule_overlay({}, 3)


# --- losses -------------------------------------------------------------------------------------

def test_losses_draws_each_run_and_marks_divergence():
    ok = _history("ok", [2.0, 1.0, 0.5, 0.25])
    bad = _history("diverged", [2.0, 3.0, 50.0, math.nan, math.inf])
    ax = plots.losses({"ok": ok, "diverged": bad})
    ok_line, bad_line, cross = ax.lines
    np.testing.assert_array_equal(ok_line.get_ydata(), [2.0, 1.0, 0.5, 0.25])
    np.testing.assert_array_equal(bad_line.get_ydata(), [2.0, 3.0, 50.0])   # NaN/inf left out
    np.testing.assert_array_equal(cross.get_xdata(), [2.0])                   # last finite step
    np.testing.assert_array_equal(cross.get_ydata(), [50.0])
    assert cross.get_marker() == "x" and cross.get_color() == bad_line.get_color()
    assert ax.get_yscale() == "log"               # 0.25 .. 50 spans > 20x


def test_losses_smoothing_and_epoch_axis():
    h = _history("run", [4.0, 2.0, 0.0, 2.0], spe=2)
    ax = plots.losses([h], smooth=2, x="epoch")
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [3.0, 1.0, 1.0])
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0.5, 1.0, 1.5])   # iterations 1..3 / 2
    assert ax.lines[0].get_label() == "run"
    assert ax.get_xlabel() == "epoch"
    with pytest.raises(ValueError, match="x must be"):
        plots.losses([h], x="time")
    with pytest.raises(ValueError, match="at least one run"):
        plots.losses({})


# --- wall_times ---------------------------------------------------------------------------------

def test_wall_times_bar_lengths_and_labels():
    a = _history("inv, 85 epochs", [1.0] * 40, accs=[0.98, 0.9903], spe=20, wall=120.0)
    b = _history("1cycle, 12 epochs", [1.0] * 10, accs=[0.993], spe=10, wall=17.5)
    ax = plots.wall_times([a, b])
    widths = [p.get_width() for p in ax.patches]
    assert widths == [120.0, 17.5]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["inv, 85 epochs", "1cycle, 12 epochs"]
    notes = [t.get_text() for t in ax.texts]
    assert "99.03 %" in notes[0] and "2 epochs" in notes[0]
    assert "99.30 %" in notes[1] and "1 epochs" in notes[1]
    assert ax.get_xlabel() == "wall-clock training time (s)"


# --- the existing figures -----------------------------------------------------------------------

def test_schedule_and_compare_plot_the_given_values():
    oc = schedules.one_cycle(50, max_lr=0.1)
    ax, ax2 = plots.schedule(oc, 50)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [oc(s)[0] for s in range(50)])
    np.testing.assert_allclose(ax2.lines[0].get_ydata(), [oc(s)[1] for s in range(50)])
    runs = {"a": _history("a", [1.0] * 20, accs=[0.5, 0.75]), "b": _history("b", [1.0] * 20, accs=[0.6, 0.7])}
    ax = plots.compare(runs)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [50.0, 75.0])
    np.testing.assert_allclose(ax.lines[1].get_xdata(), [1.0, 2.0])


def test_train_test_draws_test_solid_and_train_dashed_in_one_colour_per_run():
    results = {"high": (_history("t", [1.0] * 20, accs=[0.3, 0.2, 0.45]),
                        _history("s", [1.0] * 20, accs=[0.35, 0.25, 0.48])),
               "base": (_history("t", [1.0] * 20, accs=[0.4, 0.45, 0.5]),
                        _history("s", [1.0] * 20, accs=[0.5, 0.6, 0.73]))}
    ax_acc, ax_loss = plots.train_test(results)
    acc = ax_acc.get_lines()
    assert len(acc) == 4
    np.testing.assert_allclose(acc[0].get_ydata(), [30.0, 20.0, 45.0])      # high, test
    np.testing.assert_allclose(acc[3].get_ydata(), [50.0, 60.0, 73.0])      # base, train subset
    np.testing.assert_allclose(ax_loss.get_lines()[1].get_ydata(), [0.65, 0.75, 0.52])
    assert [ln.get_linestyle() for ln in acc] == ["-", "--", "-", "--"]
    assert acc[0].get_color() == acc[1].get_color() != acc[2].get_color() == acc[3].get_color()
    assert ax_loss.get_yscale() == "log"
