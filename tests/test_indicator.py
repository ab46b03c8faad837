"""The super-convergence indicator: its reading of synthetic accuracy curves with known answers
(plateau, peak-and-collapse, never trains, stopped early), and one real tiny sweep."""
import math

import numpy as np
import pytest
import torch

from superconv_lib import data, indicator as ind_mod, models, plots
from superconv_lib.indicator import Indicator, analyse, indicator, table

LRS = np.round(np.arange(1, 31) * 0.1, 10)   # eval points of a 0 -> 3 sweep, every 0.1


def plateau_curve(noise: bool = False) -> np.ndarray:
    """Rises linearly from chance to 0.8 at lr 0.45, then holds (Smith's ResNet-56 shape)."""
    acc = 0.1 + 0.7 * np.minimum(LRS / 0.45, 1.0)
    if noise:  # +-0.03 wiggle on the plateau and one bad evaluation at lr 2.0
        acc = acc - 0.03 * (np.arange(len(LRS)) % 2) * (LRS >= 0.5)
        acc[np.isclose(LRS, 2.0)] = 0.3
    return acc


def test_plateau_curve_known_answer():
    a = analyse(LRS, plateau_curve(), max_lr=3.0)
    # smoothed = raw except the first point (median of two = their mean)
    assert a.smoothed[0] == pytest.approx((0.1 + 0.7 * 0.1 / 0.45 + 0.1 + 0.7 * 0.2 / 0.45) / 2)
    assert a.best_accuracy == pytest.approx(0.8) and a.lr_best == pytest.approx(0.5)
    assert a.trains
    assert a.level == pytest.approx(0.8 - 0.25 * 0.7)           # 0.625
    assert a.lr_near_best == pytest.approx(0.5)                 # 0.722 at 0.4 is > 5 points off
    assert a.plateau == pytest.approx((0.4, 3.0))               # 0.722 >= 0.625 > 0.567 at 0.3
    assert a.score == pytest.approx(2.6 / 3.0)
    assert a.super_converges
    # min_lr: first lr with accuracy >= 0.1 + 0.35 = 0.45 is 0.3 (0.567; 0.411 at 0.2)
    assert a.bounds == pytest.approx((0.3, 3.0))


def test_single_bad_evaluation_does_not_end_the_plateau():
    acc = plateau_curve(noise=True)
    a = analyse(LRS, acc, max_lr=3.0)
    assert a.plateau[1] == pytest.approx(3.0) and a.super_converges
    assert a.score == pytest.approx(2.6 / 3.0)
    # without the median the dip at lr 2.0 cuts the plateau at 1.9
    raw = analyse(LRS, acc, max_lr=3.0, window=1)
    assert raw.plateau == pytest.approx((0.4, 1.9))
    assert raw.score == pytest.approx(1.5 / 3.0)


def test_peak_and_collapse_does_not_super_converge():
    acc = 0.1 + 0.5 * np.exp(-((LRS - 0.4) / 0.2) ** 2)        # peaks at 0.6, back to chance by ~1
    a = analyse(LRS, acc, max_lr=3.0)
    assert a.trains and not a.super_converges
    assert a.score < 0.1
    assert a.lr_best == pytest.approx(0.4)
    lo, hi = a.plateau
    assert 0.2 <= lo < 0.4 < hi <= 0.6
    assert a.bounds[1] == hi and a.bounds[1] / 30 <= a.bounds[0] <= a.bounds[1] / 4


def test_never_trains_scores_zero():
    rng = np.random.default_rng(0)
    acc = 0.1 + rng.uniform(-0.02, 0.02, len(LRS))
    a = analyse(LRS, acc, max_lr=3.0)
    assert not a.trains and not a.super_converges
    assert a.score == 0.0 and a.plateau is None and a.bounds is None
    # the same curve 15 points above a 10-class chance would count as training
    assert analyse(LRS, acc + 0.15, max_lr=3.0).trains


def test_sweep_stopped_early_ends_the_plateau_at_the_stop():
    keep = LRS <= 1.0 + 1e-9                                      # NaN loss after lr 1.0
    a = analyse(LRS[keep], plateau_curve()[keep], max_lr=3.0)
    assert a.plateau == pytest.approx((0.4, 1.0))
    assert a.score == pytest.approx(0.6 / 3.0) and not a.super_converges


def test_sweep_that_diverged_before_the_first_evaluation():
    import matplotlib
    matplotlib.use("Agg")
    dead = Indicator.from_points([], [], max_lr=3.0, label="dead")
    assert not dead.trains and dead.score == 0.0 and dead.bounds is None
    assert "does not train" in dead.summary()
    assert "dead" in table([dead]) and len(plots.indicators([dead]).patches) == 0


def test_threshold_and_criteria():
    a = analyse(LRS, plateau_curve(), max_lr=3.0, threshold=0.9)
    assert a.score == pytest.approx(2.6 / 3.0) and not a.super_converges
    # a stricter floor (keep 95 % of the gain) starts the plateau at 0.45-ish -> first point 0.5
    assert analyse(LRS, plateau_curve(), max_lr=3.0, drop=0.05).plateau[0] == pytest.approx(0.5)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lrs=LRS[::-1]), "increasing"),
    (dict(lrs=LRS[:5]), "equal length"),
    (dict(max_lr=2.0), "within"),
    (dict(accuracies=100 * plateau_curve()), "fractions"),
    (dict(window=2), "odd"),
    (dict(tol=-0.1), "tol"),
    (dict(min_gain=0), "min_gain"),
    (dict(chance=1.0), "chance"),
])
def test_analyse_validates(kwargs, match):
    args = dict(lrs=LRS, accuracies=plateau_curve(), max_lr=3.0) | kwargs
    with pytest.raises(ValueError, match=match):
        analyse(**args)


def test_indicator_object_reread_plot_compare_table():
    import matplotlib
    matplotlib.use("Agg")
    good = Indicator.from_points(LRS, plateau_curve(), max_lr=3.0, label="plateau")
    bad = Indicator.from_points(LRS, 0.1 + 0.5 * np.exp(-((LRS - 0.4) / 0.2) ** 2), max_lr=3.0,
                                label="collapse")
    assert good.super_converges and not bad.super_converges
    assert good.reread(threshold=0.95).super_converges is False
    assert good.reread(threshold=0.95).criteria["threshold"] == 0.95
    assert good.criteria["threshold"] == 0.5                    # the original is unchanged
    assert "super-converges" in repr(good) and "does not super-converge" in repr(bad)
    ax = good.plot()
    assert ax.get_xlim() == pytest.approx((0.0, 3.0)) and ax.get_xscale() == "linear"
    assert any(p.get_label().startswith("plateau 0.4..3") for p in ax.patches)
    ax = plots.indicators([good, bad])
    assert len(ax.patches) == 2                                # one shaded plateau per curve
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == [
        "plateau: score 0.87 ✓", f"collapse: score {bad.score:.2f} ✗"]
    text = table([good, bad])
    assert "0.4..3" in text and text.count("\n") == 2
    with pytest.raises(ValueError, match="labels"):
        plots.indicators([good, bad], labels=["one"])
    with pytest.raises(ValueError, match="unknown criteria"):
        good.reread(patience=3)


# ------------------------------------------------------------------------------------------------
# A real sweep on the tiny synthetic problem (CPU, a few seconds)


@pytest.fixture
def tiny(tiny_data):
    x, y = tiny_data
    loader = data.Loader(x[:512], y[:512], batch_size=64)
    return loader, (x[512:], y[512:])


def _net():
    return models.plain_cnn(in_channels=1, width=8, bn=True)


def test_indicator_runs_the_linear_accuracy_sweep(tiny):
    loader, eval_data = tiny
    calls = []

    def model_fn():
        calls.append(1)
        return _net()

    ind = indicator(model_fn, loader, eval_data, max_lr=1.0, num_iter=40, eval_every=5,
                    progress=False, label="tiny")
    assert len(calls) == 1
    rt = ind.range_test
    assert rt.mode == "linear" and rt.metric == "accuracy" and rt.start_lr == 0.0
    assert rt.lrs[0] == 0.0 and rt.lrs[-1] == pytest.approx(1.0) and len(rt) == 40
    # eval after iterations 5, 10, ..., 40 at the lr of the last of them: (step - 1) / 39
    assert ind.lrs == pytest.approx(np.arange(4, 40, 5) / 39)
    assert ind.chance == pytest.approx(0.1) and ind.completed
    assert ind.info["batch_size"] == 64 and ind.info["weight_decay"] == 1e-4
    assert ind.trains and ind.best_accuracy > 0.5                # the patches are easy to learn
    assert loader.epoch == 0                                     # the range test restores it


def test_indicator_is_reproducible_with_a_seed(tiny):
    loader, eval_data = tiny
    kw = dict(max_lr=1.0, num_iter=20, eval_every=5, progress=False)
    a = indicator(_net, loader, eval_data, **kw)
    b = indicator(_net, loader, eval_data, **kw)
    assert np.array_equal(a.accuracy, b.accuracy)
    assert np.array_equal(a.range_test.losses, b.range_test.losses)


def test_indicator_validates(tiny):
    loader, eval_data = tiny
    with pytest.raises(ValueError, match="zero-argument"):
        indicator(_net(), loader, eval_data)
    with pytest.raises(ValueError, match="eval_data"):
        indicator(_net, loader, None)
    with pytest.raises(ValueError, match="fewer than 3"):
        indicator(_net, loader, eval_data, num_iter=20, eval_every=10)
    with pytest.raises(ValueError, match="start_lr"):
        indicator(_net, loader, eval_data, max_lr=0.0)
    with pytest.raises(ValueError, match="criteria"):
        indicator(_net, loader, eval_data, num_iter=20, eval_every=5, patience=2)
    # checked here, at the public entry (the range test's inner function does not check again)
    for bad, match in ((dict(smooth=1.0), "smooth"), (dict(momentum=1.2), "momentum"),
                       (dict(weight_decay=-1e-4), "weight_decay"), (dict(diverge=0.5), "diverge")):
        with pytest.raises(ValueError, match=match):
            indicator(_net, loader, eval_data, num_iter=20, eval_every=5, **bad)
    with pytest.raises(ValueError, match=r"\(images, labels\) tuple"):
        indicator(_net, loader, [eval_data[0]], num_iter=20, eval_every=5)
    with pytest.raises(ValueError, match="empty"):
        indicator(_net, data.Loader(loader.x[:10], loader.y[:10], batch_size=64, drop_last=True),
                  eval_data, num_iter=20, eval_every=5)
    assert set(ind_mod.CRITERIA) == {"tol", "drop", "min_gain", "window", "threshold"}
    assert math.isinf(indicator.__kwdefaults__["diverge"])


def test_a_stopped_sweep_is_marked_in_the_plots():
    import matplotlib
    matplotlib.use("Agg")
    from superconv_lib.lr_finder import RangeTest
    it = np.linspace(0, 3, 300)[:120]                           # the loss became NaN at lr ~1.19
    rt = RangeTest.from_curve(it, np.r_[np.linspace(2.3, 1.5, 119), np.nan], stop_step=119,
                              mode="linear")
    keep = LRS <= 1.2
    stopped = Indicator(LRS[keep], plateau_curve()[keep], max_lr=3.0, range_test=rt, label="s")
    assert not stopped.completed and stopped.stop_lr == pytest.approx(it[-1])
    assert "sweep stopped at lr=1.19" in stopped.summary()
    ax = stopped.plot()
    assert any("sweep stopped" in line.get_label() for line in ax.lines)
    ax = plots.indicators([stopped])
    assert any(line.get_marker() == "x" for line in ax.lines)


def test_panel_runs_the_same_indicator(tiny_data):
    import matplotlib
    matplotlib.use("Agg")
    pytest.importorskip("ipywidgets")
    from superconv_lib.widgets.indicator import indicator_panel
    x, y = tiny_data
    x = x.repeat(1, 3, 1, 1)                                    # the panel's models take RGB
    ref = Indicator.from_points(LRS, plateau_curve(), max_lr=3.0, label="reference")
    panel = indicator_panel(x[:512], y[:512], (x[512:], y[512:]), model="plain_cnn",
                            batch_size=64, max_lr=1.0, num_iter=30, reference=[ref])
    assert panel.values() == {"model": "plain_cnn", "bn": True, "weight_decay": pytest.approx(1e-4),
                              "batch_size": 64, "max_lr": 1.0, "num_iter": 30}
    panel.run_now()
    status = [c for c in panel.children if type(c).__name__ == "HBox"][-1].children[1]
    assert status.value == "", status.value                     # no error shown in the panel
    with pytest.raises(ValueError, match="BN switch"):
        indicator_panel(x, y, (x, y), model="lenet")
