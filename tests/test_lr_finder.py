"""The LR range test: exact sweeps, state restore (also after an exception), the divergence stop,
eval points, and suggestions on synthetic curves whose answers are known."""
from __future__ import annotations

import copy
import math

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from superconv_lib import data, lr_finder, schedules, train
from superconv_lib.lr_finder import RangePoint, RangeTest, ema, range_test

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _cpu(monkeypatch):
    monkeypatch.setenv("SUPERCONV_DEVICE", "cpu")
    monkeypatch.setenv("SUPERCONV_QUICK", "1")


def _net(bn: bool = True) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4) if bn else nn.Identity(),
                         nn.ReLU(), nn.Flatten(), nn.Dropout(0.1), nn.Linear(4 * 12 * 12, 10))


def _loader(tiny_data, bs: int = 32, **kw) -> data.Loader:
    x, y = tiny_data
    return data.Loader(x, y, bs, **kw)


def _snapshot(model: nn.Module, opt: torch.optim.Optimizer | None = None):
    return (copy.deepcopy(model.state_dict()),
            [None if p.grad is None else p.grad.clone() for p in model.parameters()],
            [m.training for m in model.modules()],
            copy.deepcopy(opt.state_dict()) if opt is not None else None)


def _assert_same(a, b) -> None:
    sd_a, g_a, modes_a, opt_a = a
    sd_b, g_b, modes_b, opt_b = b
    assert sd_a.keys() == sd_b.keys()
    for k in sd_a:
        assert torch.equal(sd_a[k], sd_b[k]), k
    assert len(g_a) == len(g_b)
    for x, y in zip(g_a, g_b):
        assert (x is None and y is None) or torch.equal(x, y)
    assert modes_a == modes_b
    if opt_a is not None:
        assert opt_a["param_groups"] == opt_b["param_groups"]
        assert opt_a["state"].keys() == opt_b["state"].keys() and opt_a["state"]
        for k in opt_a["state"]:
            for name, v in opt_a["state"][k].items():
                w = opt_b["state"][k][name]
                assert torch.equal(v, w) if isinstance(v, torch.Tensor) else v == w


def _used_optimizer(model, loader) -> torch.optim.Optimizer:
    """An SGD whose momentum buffers are already filled, and leftover gradients on the model."""
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.8, weight_decay=1e-4)
    train.fit(model, loader, steps=3, lr=0.05, momentum=None, optimizer=opt, progress=False)
    return opt


# ------------------------------------------------------------------------------------- sweeps

def test_exp_and_linear_lr_sequences_are_exact(tiny_data):
    ld = _loader(tiny_data)
    rt = range_test(_net(), ld, start_lr=1e-4, end_lr=1e-1, num_iter=13, diverge=math.inf,
                    progress=False)
    assert len(rt) == 13 and rt.stop_step is None and rt.stop_reason.startswith("completed")
    assert rt.lrs[0] == 1e-4 and rt.lrs[-1] == 1e-1
    np.testing.assert_allclose(rt.lrs, np.geomspace(1e-4, 1e-1, 13), rtol=1e-12)
    assert list(rt.lrs) == [schedules.exp_sweep(13, 1e-4, 1e-1)(i) for i in range(13)]

    rt = range_test(_net(), ld, mode="linear", start_lr=0.0, end_lr=0.3, num_iter=7,
                    diverge=math.inf, progress=False)
    np.testing.assert_allclose(rt.lrs, [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3], atol=1e-15)
    assert rt.lrs[0] == 0.0 and rt.lrs[-1] == 0.3
    assert len(rt.losses) == len(rt.smoothed) == 7


def test_short_loader_cycles_and_epoch_counter_is_restored(tiny_data):
    ld = _loader(tiny_data, bs=256)            # 2 iterations per epoch
    assert len(ld) == 2 and ld.epoch == 0
    rt = range_test(_net(), ld, start_lr=1e-3, end_lr=1e-2, num_iter=7, progress=False)
    assert len(rt) == 7 and np.isfinite(rt.losses).all()
    assert ld.epoch == 0


def test_smoothing_is_bias_corrected_ema(tiny_data):
    x = np.array([2.0, 4.0, 1.0, 3.0])
    b = 0.5
    # a_t = b a_{t-1} + (1-b) x_t, divided by 1 - b^(t+1)
    # a = 1.0, 2.5, 1.75, 2.375
    want = [1.0 / 0.5, 2.5 / 0.75, 1.75 / 0.875, 2.375 / 0.9375]
    np.testing.assert_allclose(ema(x, b), want, rtol=1e-12)
    np.testing.assert_array_equal(ema(x, 0.0), x)
    ld = _loader(tiny_data)
    rt = range_test(_net(), ld, start_lr=1e-3, end_lr=1e-1, num_iter=12, smooth=0.9,
                    diverge=math.inf, progress=False)
    np.testing.assert_allclose(rt.smoothed, ema(rt.losses, 0.9), rtol=1e-12)


# ------------------------------------------------------------------------------------ restore

def test_model_optimizer_loader_and_modes_restored(tiny_data):
    ld = _loader(tiny_data)
    model = _net()
    opt = _used_optimizer(model, ld)
    model.eval()
    model[1].train()                       # a mixed train/eval state must survive too
    ld.epoch = 3
    rng = torch.get_rng_state()
    before = _snapshot(model, opt)
    rt = range_test(model, ld, start_lr=1e-3, end_lr=1.0, num_iter=20, optimizer=opt,
                    momentum=0.95, progress=False)
    assert len(rt) >= 5
    _assert_same(before, _snapshot(model, opt))
    assert opt.param_groups[0]["momentum"] == 0.8 and opt.param_groups[0]["lr"] == 0.05
    assert ld.epoch == 3
    assert torch.equal(torch.get_rng_state(), rng)


class _Boom(nn.Module):
    """Raises ``exc`` on the ``at``-th forward call (counting from 1)."""

    def __init__(self, exc: type[BaseException], at: int) -> None:
        super().__init__()
        self.exc, self.at, self.calls = exc, at, 0

    def forward(self, x):
        self.calls += 1
        if self.calls == self.at:
            raise self.exc("boom")
        return x


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_state_restored_after_exception_mid_test(tiny_data, exc):
    ld = _loader(tiny_data)
    model = _net()
    opt = _used_optimizer(model, ld)
    before, epoch = _snapshot(model, opt), ld.epoch
    model.append(_Boom(exc, at=9))             # fails on the 9th iteration
    with pytest.raises(exc, match="boom"):
        range_test(model, ld, start_lr=1e-3, end_lr=1.0, num_iter=20, optimizer=opt,
                   progress=False)
    assert model[-1].calls == 9                # it really trained 8 iterations first
    del model[-1]
    _assert_same(before, _snapshot(model, opt))
    assert ld.epoch == epoch


def test_test_does_not_change_the_training_that_follows(tiny_data):
    """A range test before training leaves the later run bit-identical (weights, data order)."""
    def run(with_test: bool) -> list[float]:
        ld = _loader(tiny_data, augment="flip")
        model = _net()
        if with_test:
            range_test(model, ld, start_lr=1e-3, end_lr=3.0, num_iter=15, progress=False)
        return train.fit(model, ld, steps=25, lr=0.05, progress=False).loss

    assert run(True) == run(False)


# --------------------------------------------------------------------------------- divergence

def test_divergence_stops_at_first_step_over_threshold(tiny_data):
    ld = _loader(tiny_data)
    rt = range_test(_net(bn=False), ld, start_lr=1e-3, end_lr=1e5, num_iter=60, smooth=0.5,
                    progress=False)
    k = rt.stop_step
    assert k is not None and rt.diverged and len(rt) == k + 1 < 60
    assert rt.lrs[-1] < 1e5
    s = rt.smoothed
    assert (not math.isfinite(s[k])) or s[k] > 4.0 * s[:k].min()
    for t in range(1, k):                      # no earlier step met the criterion
        assert s[t] <= 4.0 * s[:t].min()
    assert f"step {k}" in rt.stop_reason and ("diverged" in rt.stop_reason
                                               or "non-finite" in rt.stop_reason)
    assert "stopped" in repr(rt) or rt.stop_reason in repr(rt)


def test_non_finite_loss_stops_even_with_check_off(tiny_data):
    ld = _loader(tiny_data)
    rt = range_test(_net(bn=False), ld, start_lr=1e-2, end_lr=1e30, num_iter=80,
                    diverge=math.inf, progress=False)
    assert rt.stop_reason.startswith("non-finite"), rt.stop_reason
    assert not math.isfinite(rt.smoothed[-1]) and np.isfinite(rt.smoothed[:-1]).all()
    assert len(rt) < 80


# ----------------------------------------------------------------------------- accuracy mode

@pytest.mark.parametrize("every, steps", [(5, [5, 10, 15, 20]), (6, [6, 12, 18, 20])])
def test_accuracy_mode_records_eval_points(tiny_data, every, steps):
    x, y = tiny_data
    ld = _loader(tiny_data)
    rt = range_test(_net(), ld, mode="linear", start_lr=0.0, end_lr=0.5, num_iter=20,
                    metric="accuracy", eval_data=(x[:200], y[:200]), eval_every=every,
                    diverge=math.inf, progress=False)
    assert [p.step for p in rt.eval_points] == steps
    for p in rt.eval_points:
        assert isinstance(p, RangePoint)
        assert p.lr == rt.lrs[p.step - 1]
        assert 0.0 <= p.accuracy <= 1.0 and p.loss >= 0
    assert "acc_bounds" in rt.suggestions()
    text = rt.to_csv()
    assert text.splitlines()[0] == "step,lr,loss,smoothed,eval_loss,eval_accuracy"
    assert len(text.splitlines()) == 21
    assert sum(1 for line in text.splitlines()[1:] if not line.endswith(",")) == len(steps)


def test_accuracy_mode_default_eval_every_and_plot(tiny_data):
    x, y = tiny_data
    ld = _loader(tiny_data)
    rt = range_test(_net(), ld, start_lr=1e-3, end_lr=1.0, num_iter=40, metric="accuracy",
                    eval_data=(x[:100], y[:100]), diverge=math.inf, progress=False)
    assert [p.step for p in rt.eval_points] == list(range(2, 41, 2))   # about 20 points
    loss_ax, acc_ax = rt.plot()
    assert loss_ax.get_xscale() == "log" and acc_ax.get_ylabel().startswith("eval accuracy")
    labels = loss_ax.get_legend().get_texts()
    assert any(t.get_text().startswith("valley") for t in labels)
    assert rt.plot(what="accuracy").get_xscale() == "log"
    import matplotlib.pyplot as plt
    plt.close("all")


# ------------------------------------------------------------------------------ bad arguments

@pytest.mark.parametrize("kwargs, match", [
    (dict(start_lr=0.0), "start_lr > 0"),
    (dict(start_lr=-1.0, mode="linear"), "start_lr must be >= 0"),
    (dict(start_lr=1.0, end_lr=1.0), "end_lr must be > start_lr"),
    (dict(start_lr=1.0, end_lr=0.1), "end_lr must be > start_lr"),
    (dict(num_iter=1), "num_iter"),
    (dict(num_iter=10.0), "num_iter"),
    (dict(metric="accuracy"), "needs eval_data"),
    (dict(metric="acc"), "metric"),
    (dict(mode="log"), "mode"),
    (dict(smooth=1.0), "smooth"),
    (dict(diverge=1.0), "diverge"),
    (dict(eval_every=0, eval_data=(1, 2)), "eval_every must be a positive int"),
    (dict(eval_data=()), "eval_data must be"),
    (dict(metric="accuracy", eval_data=(1, 2), num_iter=10, eval_every=10), "fewer than 2"),
    (dict(optimizer="sgd"), "optimizer"),
])
def test_bad_arguments_raise_value_error(tiny_data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        range_test(_net(), _loader(tiny_data), progress=False, **kwargs)


def test_empty_loader_and_non_loader_raise(tiny_data):
    ld = _loader(tiny_data)
    ld.x = ld.x[:0]                            # a loader whose data went missing
    with pytest.raises(ValueError, match="empty"):
        range_test(_net(), ld, progress=False)
    with pytest.raises(ValueError, match="Loader"):
        range_test(_net(), [(torch.zeros(2, 1, 12, 12), torch.zeros(2).long())], progress=False)


# ------------------------------------------------------------------- suggestions, known answers

GRID = np.logspace(-6, 1, 141)                 # 20 points per decade
STEP = 1 / 20


def _curve(loss, lrs=GRID, **kw) -> RangeTest:
    return RangeTest.from_curve(lrs, loss, smooth=0.0, **kw)


def test_steepest_is_the_inflection_on_log_axis():
    x = np.log10(GRID)
    rt = _curve(2.0 - np.tanh((x + 2.5) / 0.4))   # falls fastest at lr = 10**-2.5
    s = rt.suggestions()
    assert abs(math.log10(s["steepest"]) + 2.5) <= STEP + 1e-9


def test_steepest_uses_log_spacing_for_a_linear_sweep():
    lrs = np.linspace(0.0, 1.0, 201)             # Smith's linear sweep, starting at 0
    x = np.log10(np.maximum(lrs, 1e-12))
    loss = 2.0 - np.tanh((x + 1.0) / 0.3)       # steepest per decade at lr = 0.1
    s = _curve(loss, lrs, mode="linear").suggestions(skip_start=1)
    assert abs(s["steepest"] - 0.1) <= 0.005 + 1e-9
    # in linear units the steepest drop would sit elsewhere: the log spacing matters
    assert abs(lrs[np.argmin(np.gradient(loss, lrs))] - 0.1) > 0.01


def test_min_div_10_and_skip_of_diverged_tail():
    x = np.log10(GRID)
    loss = 1.0 + (x + 1.5) ** 2                 # minimum at lr = 10**-1.5
    assert math.isclose(_curve(loss).suggestions()["min_div_10"], 10 ** -1.5 / 10, rel_tol=1e-9)
    # a diverged run: the last points (the blow-up) are not a candidate minimum
    loss2 = loss.copy()
    loss2[-5:] = [0.1, 0.1, 0.1, 0.1, 50.0]
    rt = _curve(loss2, stop_step=len(loss2) - 1, num_iter=len(loss2))
    assert math.isclose(rt.suggestions()["min_div_10"], 10 ** -1.5 / 10, rel_tol=1e-9)


def test_valley_follows_fastai_rule():
    # flat at 2.0 (no strict descent), a strictly falling run at indices 20..59, then rising
    loss = np.r_[np.full(20, 2.0), np.linspace(2.0, 0.5, 41)[1:], np.linspace(0.6, 3.0, 20)]
    lrs = np.logspace(-5, 0, len(loss))
    # longest decreasing chain: one flat point + 40 falling ones, ends at 59: L = 41,
    # start = 59 - 41 = 18, sections = 41/3, idx = 18 + 13 + 6 = 37
    s = _curve(loss, lrs).suggestions(skip_start=0)
    assert s["valley"] == lrs[37]
    assert lr_finder._valley_index(loss) == 37


def test_valley_matches_fastai_loop_on_a_smooth_curve():
    def fastai_valley(losses):                   # fastai/callback/schedule.py, literally
        n = len(losses)
        max_start, max_end = 0, 0
        lds = [1] * n
        for i in range(1, n):
            for j in range(0, i):
                if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                    lds[i] = lds[j] + 1
                if lds[max_end] < lds[i]:
                    max_end = i
                    max_start = max_end - lds[max_end]
        sections = (max_end - max_start) / 3
        return max_start + int(sections) + int(sections / 2)

    x = np.log10(GRID)
    for c in (-4.0, -2.5, -1.0):
        loss = 2.0 - np.tanh((x - c) / 0.5) + 0.05 * np.exp(2 * (x - c))
        assert lr_finder._valley_index(loss) == fastai_valley(list(loss))


def test_rules_return_none_instead_of_crashing():
    short = _curve([2.3, 2.2, 2.1, 2.4], GRID[:4])
    assert short.suggestions() == {"steepest": None, "valley": None, "min_div_10": None}
    rising = _curve(np.linspace(1.0, 3.0, len(GRID)))
    s = rising.suggestions()
    assert s["steepest"] is None and s["min_div_10"] is not None
    assert "acc_bounds" not in s
    repr(short), repr(rising)                    # __repr__ copes with None


def _points(lrs, accs):
    return [RangePoint(i + 1, lr, 1.0, a) for i, (lr, a) in enumerate(zip(lrs, accs))]


def test_acc_bounds_rise_and_ragged_peak():
    lrs = np.linspace(0.1, 2.0, 20)
    acc = np.r_[np.full(5, 0.10), np.linspace(0.2, 0.9, 8), [0.88, 0.9, 0.6, 0.7, 0.3, 0.2, 0.1]]
    # rise threshold: 0.1 + 0.1 * 0.8 = 0.18 -> first point above is index 5;
    # running best 0.9 at index 12, 0.88 is within tolerance, 0.9 (index 14) is not higher,
    # 0.6 drops > 0.08 below: max_lr = lr[12]
    rt = _curve(np.linspace(2.3, 1.0, 30), np.linspace(0.01, 2.0, 30),
                eval_points=_points(lrs, acc), mode="linear", metric="accuracy")
    base, top = rt.suggestions()["acc_bounds"]
    assert base == lrs[5] and top == lrs[12]
    flat = _curve(np.linspace(2.3, 1.0, 30), eval_points=_points(lrs, np.full(20, 0.1)),
                  lrs=np.linspace(0.01, 2.0, 30))
    assert flat.suggestions()["acc_bounds"] is None
