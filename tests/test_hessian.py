"""The Hessian-free optimal-lr estimate pinned to numbers: exact on quadratics (1/a, and between
1/a_max and 1/a_min on a diagonal one), the callback's bookkeeping inside a real ``fit``, and
training with the callback bit-identical to training without it."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from superconv_lib import data, experiments, hessian, plots, train
from superconv_lib.hessian import HessianFreeLR, estimate, per_weight_estimate, quadratic_trajectory



@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These models are tiny: one thread avoids OpenMP spin-waits on a shared 2-core runner."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------------------------ quadratics

def _sgd_iterates(a: torch.Tensor, theta: torch.Tensor, lr: float, n: int) -> list[torch.Tensor]:
    """Plain SGD on f = Σ a θ²/2, written out: θ ← θ − lr·aθ (an analytic fixture)."""
    out = [theta.clone()]
    for _ in range(n):
        theta = theta - lr * a * theta
        out.append(theta.clone())
    return out


@pytest.mark.parametrize("a, lr", [(4.0, 0.1), (0.3, 1.0), (50.0, 0.01), (2.0, 0.9)])
def test_one_dimensional_quadratic_gives_one_over_a(a, lr):
    it = _sgd_iterates(torch.tensor([a], dtype=torch.float64), torch.tensor([1.5], dtype=torch.float64),
                       lr, 6)
    for i in range(5):
        assert abs(estimate(it[i], it[i + 1], it[i + 2], lr) - 1 / a) <= 1e-6 / a


def test_one_dimensional_quadratic_float32():
    it = _sgd_iterates(torch.tensor([4.0]), torch.tensor([1.0]), 0.1, 3)
    assert abs(estimate(it[0], it[1], it[2], 0.1) - 0.25) < 1e-5


def test_diagonal_quadratic_lies_between_extreme_curvatures():
    a = torch.tensor([0.5, 2.0, 8.0, 20.0], dtype=torch.float64)
    theta = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    it = _sgd_iterates(a, theta, 0.04, 200)
    ests = [estimate(it[i], it[i + 1], it[i + 2], 0.04) for i in range(198)]
    assert all(1 / 20.0 - 1e-12 <= e <= 1 / 0.5 + 1e-12 for e in ests)
    # it is the |θ|a²-weighted mean of 1/a_j; stiff directions die first, so it drifts up to 1/a_min
    w = (a ** 2 * theta.abs())
    assert abs(ests[0] - float((w / a).sum() / w.sum())) < 1e-9
    assert ests[0] < 0.2 and abs(ests[-1] - 2.0) < 0.05
    assert all(x <= y + 1e-12 for x, y in zip(ests, ests[1:]))
    # the per-weight secant rates are exactly 1/a_j
    pw = per_weight_estimate(it[3], it[4], it[5], 0.04)
    assert torch.allclose(pw, 1 / a, rtol=1e-9)


def test_parameter_lists_and_modules_are_flattened():
    a = torch.tensor([1.0, 4.0, 9.0], dtype=torch.float64)
    it = _sgd_iterates(a, torch.ones(3, dtype=torch.float64), 0.05, 2)
    flat = estimate(it[0], it[1], it[2], 0.05)
    split = estimate(*([t[:1], t[1:]] for t in it), 0.05)
    assert flat == pytest.approx(split, rel=1e-12)
    mods = []
    for t in it:
        m = nn.Linear(3, 1, bias=False).double()
        with torch.no_grad():
            m.weight.copy_(t.view(1, 3))
        mods.append(m)
    assert estimate(*mods, 0.05) == pytest.approx(flat, rel=1e-12)


def test_different_lrs_use_the_exact_secant():
    # θ1 = θ0 − ε1·aθ0, θ2 = θ1 − ε2·aθ1: the secant with the two rates still gives 1/a exactly
    a, t0 = 3.0, torch.tensor([2.0], dtype=torch.float64)
    t1 = t0 - 0.1 * a * t0
    t2 = t1 - 0.15 * a * t1
    assert estimate(t0, t1, t2, (0.1, 0.15)) == pytest.approx(1 / a, rel=1e-12)
    assert abs(estimate(t0, t1, t2, 0.1) - 1 / a) > 0.1   # one lr for both steps is wrong here


def test_fixture_matches_torch_sgd_and_weight_decay_adds_curvature():
    t = quadratic_trajectory(4.0, 1.0, 0.1, 5)
    assert torch.allclose(t[:, 0], 0.6 ** torch.arange(6, dtype=torch.float64))
    t = quadratic_trajectory(0.01, 1.0, 0.5, 10, weight_decay=0.01)
    assert estimate(t[3], t[4], t[5], 0.5) == pytest.approx(1 / 0.02, rel=1e-9)


def test_momentum_underdamped_reads_sqrt_lr_over_a():
    # heavy ball: iterates ~ r^k with |1 − r|² = εa when the roots are complex, so ε* ~ √(ε/a)
    t = quadratic_trajectory(2.0, 1.0, 0.1, 400, momentum=0.9)
    e = np.array([estimate(t[i], t[i + 1], t[i + 2], 0.1) for i in range(398)])
    assert np.median(e) == pytest.approx(math.sqrt(0.1 / 2.0), rel=0.05)


def test_bad_input():
    t = torch.ones(3)
    with pytest.raises(ValueError, match="positive finite"):
        estimate(t, t, t, 0.0)
    with pytest.raises(ValueError, match="positive finite"):
        estimate(t, t, t, float("nan"))
    with pytest.raises(ValueError, match="same number of weights"):
        estimate(t, t, torch.ones(4), 0.1)
    with pytest.raises(ValueError, match="tensor"):
        estimate(t, t, 3.0, 0.1)
    # weights that did not change (or moved by the same step twice): zero denominator -> NaN
    assert math.isnan(estimate(t, t, t, 0.1))
    assert math.isnan(estimate(t, 2 * t, 3 * t, 0.1))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="every"):
            HessianFreeLR(every=bad)
    for bad in (0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="smoothing"):
            HessianFreeLR(smoothing=bad)
    with pytest.raises(ValueError, match="gap"):
        HessianFreeLR(gap=0)


# ------------------------------------------------------------------------ the callback in fit()

def _loader(seed: int = 0) -> data.Loader:
    """An MNIST-like synthetic problem: 320 uint8 images 1×12×12, 10 classes."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(320) % 10
    x = torch.randint(0, 60, (320, 1, 12, 12), generator=g, dtype=torch.uint8)
    for k in range(10):
        r, c = divmod(k, 4)
        x[y == k, :, 3 * r:3 * r + 4, 3 * c:3 * c + 4] = 250
    return data.Loader(x, y, batch_size=32, seed=seed)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 10 * 10, 10))


class _Weights:
    """Test helper: a copy of the trainable weights before step 0 and after every step."""

    def on_train_begin(self, loop):
        self.w = [[p.detach().clone() for p in hessian.trainable_parameters(loop.model)]]

    def on_step_end(self, loop):
        self.w.append([p.detach().clone() for p in hessian.trainable_parameters(loop.model)])


def _schedule(step: int) -> float:
    return 0.05 * (1 + step / 40)


def test_callback_records_the_right_steps_and_values():
    rec, est = _Weights(), HessianFreeLR(every=7, smoothing=0.5)
    h = train.fit(_model(), _loader(), steps=45, lr=_schedule, momentum=0.9, callbacks=[rec, est],
                  progress=False, read_every=4)
    # triples start before iterations 0, 7, ..., 42 and need two more steps: 42 + 1 <= 44
    assert list(est.steps) == [0, 7, 14, 21, 28, 35, 42]
    assert np.allclose(est.lr, [h.lr[s] for s in est.steps])
    for r in est.records:
        s = r.step
        want = estimate(rec.w[s], rec.w[s + 1], rec.w[s + 2], (h.lr[s], h.lr[s + 1]))
        assert r.raw == pytest.approx(want, rel=1e-9)
    # the moving average: m0 = first estimate, then m <- (1 - α) m + α ε*
    m = est.raw[0]
    assert est.smoothed[0] == m
    for raw, sm in zip(est.raw[1:], est.smoothed[1:]):
        m = 0.5 * m + 0.5 * raw
        assert sm == pytest.approx(m, rel=1e-12)
    assert np.all(est.raw > 0)
    # one step short of the last triple (iterations 0..42; the triple at 42 needs 43): not started
    est2 = HessianFreeLR(every=7)
    train.fit(_model(), _loader(), steps=43, lr=0.05, callbacks=[est2], progress=False)
    assert list(est2.steps) == [0, 7, 14, 21, 28, 35]


def test_callback_with_gap_uses_spaced_snapshots():
    rec, est = _Weights(), HessianFreeLR(every=10, gap=3)
    h = train.fit(_model(), _loader(), steps=30, lr=_schedule, callbacks=[rec, est], progress=False)
    assert list(est.steps) == [0, 10, 20]
    for r in est.records:
        s = r.step
        lr1, lr2 = np.mean(h.lr[s:s + 3]), np.mean(h.lr[s + 3:s + 6])
        want = estimate(rec.w[s], rec.w[s + 3], rec.w[s + 6], (lr1, lr2))
        assert r.lr == pytest.approx(lr1) and r.raw == pytest.approx(want, rel=1e-9)


def test_every_one_overlaps_triples():
    est = HessianFreeLR(every=1, smoothing=1.0)
    train.fit(_model(), _loader(), steps=12, lr=0.05, callbacks=[est], progress=False)
    assert list(est.steps) == list(range(11))
    assert np.array_equal(est.raw, est.smoothed)        # α = 1: no smoothing


def test_training_with_the_callback_gives_the_same_weights():
    def weights(callbacks):
        m = _model()
        train.fit(m, _loader(), steps=25, lr=_schedule, momentum=0.9, weight_decay=5e-4,
                  callbacks=callbacks, progress=False)
        return [p.detach().clone() for p in m.parameters()] + [b.clone() for b in m.buffers()]

    without, with_cb = weights([]), weights([HessianFreeLR(every=3)])
    assert all(torch.equal(a, b) for a, b in zip(without, with_cb))


def test_zero_lr_gives_a_documented_nan_and_keeps_the_average():
    est = HessianFreeLR(every=5)
    train.fit(_model(), _loader(), steps=20, lr=lambda s: 0.0 if 10 <= s < 12 else 0.05,
              callbacks=[est], progress=False)
    assert list(est.steps) == [0, 5, 10, 15]
    assert math.isnan(est.raw[2]) and est.smoothed[2] == est.smoothed[1]
    assert np.isfinite(est.raw[[0, 1, 3]]).all()


def test_results_csv_range_and_run():
    est = hessian.run(_model(), _loader(), steps=30, lr=0.05, every=5, label="const", progress=False)
    assert est.history.steps == 30 and est.label == "const"
    text = est.to_csv()
    lines = text.strip().splitlines()
    assert lines[0] == "step,lr,raw,smoothed" and len(est.records) == 6 and len(lines) == 7
    assert float(lines[2].split(",")[2]) == pytest.approx(est.raw[1], rel=1e-7)
    lo, hi = est.range(after=10)
    assert lo <= hi and lo == pytest.approx(est.smoothed[2:].min())
    with pytest.raises(ValueError, match="no finite estimates"):
        est.range(after=1000)
    assert "6 estimates" in repr(est)


def test_trainable_parameters_skip_frozen_weights_and_buffers():
    m = _model()
    m[0].weight.requires_grad_(False)
    params = hessian.trainable_parameters(m)
    assert all(p.requires_grad for p in params) and len(params) == len(list(m.parameters())) - 1
    assert not any(p is b for p in params for b in m.buffers())     # BN running stats left out
    with pytest.raises(ValueError, match="no trainable"):
        hessian.trainable_parameters(nn.BatchNorm2d(3, affine=False))


def test_runs_see_the_same_batches_and_plot():
    import matplotlib
    matplotlib.use("Agg")
    loader = _loader()
    runs = hessian.runs(_model, loader, {"a": 0.05, "b": 0.05, "c": 0.02}, steps=12, every=4,
                        progress=False)
    assert list(runs) == ["a", "b", "c"] and [e.label for e in runs.values()] == ["a", "b", "c"]
    assert all(len(e.records) == 3 and e.history.steps == 12 for e in runs.values())
    assert np.array_equal(runs["a"].raw, runs["b"].raw)          # same seed, same batches
    assert not np.array_equal(runs["a"].raw, runs["c"].raw)
    assert runs["c"].history.lr == [0.02] * 12
    ax = plots.hessian(runs)
    assert len(ax.lines) == 9 and ax.get_yscale() == "log"       # raw, smoothed, lr per run
    assert len(runs["a"].plot().lines) == 3
    sch = experiments.comparison_schedules(80)
    assert set(sch) == {"1cycle 0.1→3", "constant 0.35", "piecewise 0.35"}
    assert sch["1cycle 0.1→3"](0)[0] == pytest.approx(0.1) and max(sch["1cycle 0.1→3"](s)[0]
                                                               for s in range(80)) == pytest.approx(3.0, rel=0.02)
    assert [sch["piecewise 0.35"](s) for s in (49, 50, 69, 70)] == pytest.approx([0.35, 0.035, 0.035, 0.0035])
