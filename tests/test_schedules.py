"""Schedules pinned to numbers: torch's CyclicLR / OneCycleLR / MultiStepLR where both define the
same policy, hand-computed values elsewhere, and exact resume through ``Scheduled``."""
from __future__ import annotations

import io
import math
import re

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import CyclicLR, MultiStepLR, OneCycleLR

from superconv_lib import schedules
from superconv_lib.schedules import (Scheduled, clr, exp_sweep, inv, linear_sweep, one_cycle,
                                     piecewise, set_hparams)

TOL = 1e-9


def _sgd(lr: float = 0.1, momentum: float = 0.9, groups: int = 1) -> torch.optim.SGD:
    return torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]}
                            for _ in range(groups)], lr=lr, momentum=momentum)


# --------------------------------------------------------------------------------------- clr

@pytest.mark.parametrize("mode, gamma", [("triangular", 1.0), ("triangular2", 1.0),
                                         ("exp_range", 0.99)])
def test_clr_equals_torch_cycliclr_every_step(mode, gamma):
    opt = _sgd()
    sched = CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=7, mode=mode, gamma=gamma,
                     cycle_momentum=False)
    for k in range(50):  # 50 iterations = 3.5 cycles of 14
        assert sched.last_epoch == k
        assert abs(sched.get_last_lr()[0] - clr(0.01, 0.1, 7, mode, gamma)(k)) <= TOL
        opt.step()
        sched.step()


def test_clr_values():
    # stepsize 7: base at 0, max at 7, base again at 14 (one cycle = 14 iterations)
    assert clr(0.01, 0.1, 7)(0) == pytest.approx(0.01, abs=TOL)
    assert clr(0.01, 0.1, 7)(7) == pytest.approx(0.1, abs=TOL)
    assert clr(0.01, 0.1, 7)(14) == pytest.approx(0.01, abs=TOL)
    assert clr(0.01, 0.1, 7)(21) == pytest.approx(0.1, abs=TOL)
    assert clr(0.0, 0.7, 7)(3) == pytest.approx(0.3, abs=TOL)  # base_lr 0 is allowed
    # triangular2 halves the amplitude each cycle
    assert clr(0.01, 0.1, 7, "triangular2")(21) == pytest.approx(0.01 + 0.09 / 2, abs=TOL)
    assert clr(0.01, 0.1, 7, "triangular2")(35) == pytest.approx(0.01 + 0.09 / 4, abs=TOL)
    # exp_range scales the amplitude by gamma ** iteration
    assert clr(0.01, 0.1, 7, "exp_range", 0.9)(7) == pytest.approx(0.01 + 0.09 * 0.9**7, abs=TOL)
    assert isinstance(clr(0.01, 0.1, 7)(np.int64(3)), float)


# --------------------------------------------------------------------------------- one_cycle

def test_one_cycle_phases_linear():
    T = 200  # phases [0, 80], [80, 180], annealing [180, 200]
    f = one_cycle(T + 1, max_lr=1.0, div=10.0, pct_start=0.4, pct_anneal=0.1, final_div=100.0,
                  moms=(0.95, 0.85))
    assert f(0) == pytest.approx((0.1, 0.95), abs=TOL)
    assert f(20) == pytest.approx((0.325, 0.925), abs=TOL)    # quarter way up
    assert f(80) == pytest.approx((1.0, 0.85), abs=TOL)       # peak lr, lowest momentum
    assert f(130) == pytest.approx((0.55, 0.90), abs=TOL)     # half way down
    assert f(180) == pytest.approx((0.1, 0.95), abs=TOL)      # end of the cycle
    assert f(190) == pytest.approx((0.0505, 0.95), abs=TOL)   # half way through the annealing
    assert f(200) == pytest.approx((0.001, 0.95), abs=TOL)    # max_lr / (div * final_div)
    lrs, moms = zip(*(f(s) for s in range(T + 1)))
    assert max(lrs) == pytest.approx(1.0, abs=TOL) and lrs.index(max(lrs)) == 80
    # momentum mirrors the lr within the cycle: high lr <-> low momentum
    for s in range(0, 181):
        assert (lrs[s] - 0.1) / 0.9 == pytest.approx((0.95 - moms[s]) / 0.1, abs=1e-9)


def test_one_cycle_cos_shape():
    f = one_cycle(201, max_lr=1.0, pct_start=0.4, pct_anneal=0.1, shape="cos")
    quarter = 1.0 + (0.1 - 1.0) / 2 * (math.cos(math.pi / 4) + 1)
    assert f(20)[0] == pytest.approx(quarter, abs=TOL)         # cos lags linear early on ...
    assert f(20)[0] < one_cycle(201, 1.0, pct_start=0.4, pct_anneal=0.1)(20)[0]
    assert f(40)[0] == pytest.approx(0.55, abs=TOL)            # ... and meets it half way
    assert f(0) == pytest.approx((0.1, 0.95), abs=TOL)
    assert f(80) == pytest.approx((1.0, 0.85), abs=TOL)
    assert f(200) == pytest.approx((0.001, 0.95), abs=TOL)


def test_one_cycle_edge_cases():
    # no annealing tail: the cycle ends at the last step
    assert one_cycle(101, 1.0, pct_anneal=0.0)(100) == pytest.approx((0.1, 0.95), abs=TOL)
    # no warm-up: start at the peak
    assert one_cycle(101, 1.0, pct_start=0.0)(0) == pytest.approx((1.0, 0.85), abs=TOL)
    # constant momentum
    assert {one_cycle(11, 1.0, moms=(0.9, 0.9))(s)[1] for s in range(11)} == {0.9}
    # the shortest run (2 iterations), numpy step
    assert one_cycle(2, 1.0, pct_start=0.0, pct_anneal=0.0)(np.int64(1))[0] == pytest.approx(0.1)


@pytest.mark.parametrize("shape", ["cos", "linear"])
@pytest.mark.parametrize("N, p", [(100, 0.3), (37, 0.25), (1000, 0.1)])
def test_one_cycle_recipe_equals_torch_three_phase(shape, N, p):
    """The documented recipe: OneCycleLR(three_phase=True, total_steps=N) == one_cycle(N)(k)."""
    d, f, max_lr = 25.0, 1e4, 0.5
    opt = _sgd()
    sched = OneCycleLR(opt, max_lr=max_lr, total_steps=N, pct_start=p, div_factor=d,
                       final_div_factor=f, base_momentum=0.85, max_momentum=0.95,
                       anneal_strategy=shape, three_phase=True)
    ours = one_cycle(N, max_lr=max_lr, div=d, final_div=f, pct_start=(p * N - 1) / (N - 1),
                     pct_anneal=1 - (2 * p * N - 2) / (N - 1), moms=(0.95, 0.85), shape=shape)
    for k in range(N):
        lr, mom = ours(k)
        assert abs(sched.get_last_lr()[0] - lr) <= TOL, k
        assert abs(opt.param_groups[0]["momentum"] - mom) <= TOL, k
        opt.step()
        if k < N - 1:
            sched.step()


# ---------------------------------------------------------------------- piecewise, inv, sweeps

def test_piecewise_values_and_torch_multistep():
    f = piecewise(boundaries=[10, 20], values=[0.1, 0.01, 0.001])
    assert [f(s) for s in (0, 9, 10, 19, 20, 10_000)] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    assert piecewise([], [0.3])(5) == 0.3
    opt = _sgd(lr=0.1)
    sched = MultiStepLR(opt, milestones=[10, 20], gamma=0.1)
    for k in range(30):
        assert sched.get_last_lr()[0] == pytest.approx(f(k), rel=1e-12)
        opt.step()
        sched.step()


def test_inv_values():
    assert inv(0.01, 1e-4, 0.75)(0) == 0.01
    assert inv(0.01, 1e-4, 0.75)(10_000) == pytest.approx(0.01 * 2 ** -0.75, rel=1e-12)
    assert inv(0.01, 1e-4, 0.0)(123) == 0.01  # power 0: constant


def test_range_sweeps_ends_exact_and_middle():
    assert linear_sweep(101, 0.0, 1.0)(0) == 0.0
    assert linear_sweep(101, 0.0, 1.0)(100) == 1.0
    assert linear_sweep(101, 0.0, 1.0)(50) == pytest.approx(0.5, abs=TOL)
    assert linear_sweep(101, 0.1, 0.3)(100) == 0.3  # exact even where 0.1 + 0.2 != 0.3
    assert exp_sweep(101, 1e-5, 10.0)(0) == 1e-5
    assert exp_sweep(101, 1e-5, 10.0)(100) == 10.0
    assert exp_sweep(101, 1e-5, 10.0)(50) == pytest.approx(math.sqrt(1e-5 * 10.0), rel=1e-12)
    # constant ratio per iteration: equal numbers of iterations per decade
    ratios = [exp_sweep(61, 1e-4, 1.0)(s + 1) / exp_sweep(61, 1e-4, 1.0)(s)
              for s in range(60)]
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-9)
    # the trailing scheduler step (step == steps) extrapolates instead of failing
    assert linear_sweep(101, 0.0, 1.0)(101) == pytest.approx(1.01, abs=TOL)


# -------------------------------------------------------------------------------- bad arguments

BAD = [
    # (call, name the message must mention)
    (lambda: clr(0.01, 0.1, 7)(-1), "step"),
    (lambda: clr(-0.01, 0.1, 7)(0), "base_lr"),
    (lambda: clr(0.0, 0.0, 7)(0), "max_lr"),
    (lambda: clr(0.2, 0.1, 7)(0), "base_lr"),
    (lambda: clr(0.01, 0.1, 0)(0), "step_size"),
    (lambda: clr(0.01, 0.1, 7.5)(0), "step_size"),
    (lambda: clr(0.01, 0.1, 7, mode="triangle")(0), "triangular2"),
    (lambda: clr(0.01, 0.1, 7, mode="exp_range", gamma=0.0)(0), "gamma"),
    (lambda: one_cycle(101, 1.0)(-1), "step"),
    (lambda: one_cycle(101, 1.0)(101), "step must be in [0, 100]"),
    (lambda: one_cycle(1, 1.0), "steps"),
    (lambda: one_cycle(101, 0.0)(0), "max_lr"),
    (lambda: one_cycle(101, -1.0)(0), "max_lr"),
    (lambda: one_cycle(101, 1.0, div=0.5)(0), "div"),
    (lambda: one_cycle(101, 1.0, div=0.0)(0), "div"),
    (lambda: one_cycle(101, 1.0, final_div=0.0)(0), "final_div"),
    (lambda: one_cycle(101, 1.0, pct_start=1.0)(0), "pct_start"),
    (lambda: one_cycle(101, 1.0, pct_start=-0.1)(0), "pct_start"),
    (lambda: one_cycle(101, 1.0, pct_anneal=1.0)(0), "pct_anneal"),
    (lambda: one_cycle(101, 1.0, pct_start=0.6, pct_anneal=0.5)(0), "pct_start + pct_anneal"),
    (lambda: one_cycle(101, 1.0, moms=(1.0, 0.85))(0), "moms[0]"),
    (lambda: one_cycle(101, 1.0, moms=(0.95, -0.1))(0), "moms[1]"),
    (lambda: one_cycle(101, 1.0, moms=(0.95,))(0), "moms"),
    (lambda: one_cycle(101, 1.0, shape="cosine")(0), "linear, cos"),
    (lambda: piecewise([10], [1.0, 0.1])(-1), "step"),
    (lambda: piecewise([10], [1.0])(0), "values"),
    (lambda: piecewise([10, 10], [1.0, 0.1, 0.01])(0), "boundaries"),
    (lambda: piecewise([-5], [1.0, 0.1])(0), "boundaries"),
    (lambda: piecewise([2.5], [1.0, 0.1])(0), "boundaries"),
    (lambda: inv(0.01, 1e-4, 0.75)(-1), "step"),
    (lambda: inv(0.0, 1e-4, 0.75)(0), "base_lr"),
    (lambda: inv(0.01, 0.0, 0.75)(0), "gamma"),
    (lambda: inv(0.01, 1e-4, -0.5)(0), "power"),
    (lambda: linear_sweep(1, 0.0, 1.0), "steps must be >= 2"),
    (lambda: linear_sweep(101, 0.0, 1.0)(102), "step"),
    (lambda: linear_sweep(101, 0.0, 1.0)(-1), "step"),
    (lambda: linear_sweep(101, -1.0, 1.0)(0), "start_lr"),
    (lambda: linear_sweep(101, 1.0, 1.0)(0), "end_lr"),
    (lambda: exp_sweep(101, 0.0, 1.0)(0), "start_lr"),
    (lambda: exp_sweep(101, 1e-3, 1e-4)(0), "end_lr"),
    (lambda: exp_sweep(1, 1e-5, 1.0), "steps must be >= 2"),
]


@pytest.mark.parametrize("call, name", BAD, ids=[f"{i}-{n}" for i, (_, n) in enumerate(BAD)])
def test_bad_arguments_raise_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=re.escape(name)):
        call()


def test_pct_message_says_what_to_change():
    with pytest.raises(ValueError, match=r"got 0\.6 \+ 0\.5\); shorten the warm-up"):
        one_cycle(101, 1.0, pct_start=0.6, pct_anneal=0.5)(0)


# -------------------------------------------------------------------------------- Scheduled

def test_scheduled_sets_lr_and_momentum_sgd():
    T = 20
    fn = one_cycle(T + 1, max_lr=1.0)
    opt = _sgd(groups=2)
    sched = Scheduled(opt, fn)
    for k in range(T + 1):
        lr, mom = fn(k)
        assert sched.get_last_lr() == [lr, lr]
        assert sched.last_momentum == [mom, mom]
        for group in opt.param_groups:
            assert (group["lr"], group["momentum"]) == (lr, mom)
        opt.step()
        if k < T:
            sched.step()


def test_scheduled_sets_beta1_adam():
    fn = one_cycle(11, max_lr=1e-2, moms=(0.95, 0.85))
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-3, betas=(0.9, 0.98))
    sched = Scheduled(opt, fn)
    for k in range(11):
        lr, mom = fn(k)
        assert opt.param_groups[0]["lr"] == lr
        assert opt.param_groups[0]["betas"] == (mom, 0.98)
        opt.step()
        if k < 10:
            sched.step()


def test_scheduled_lr_only_leaves_momentum_alone():
    fn = clr(base_lr=0.01, max_lr=0.1, step_size=3)
    opt = _sgd(momentum=0.9)
    sched = Scheduled(opt, fn)
    for k in range(10):
        assert sched.get_last_lr() == [fn(k)]
        assert opt.param_groups[0]["momentum"] == 0.9 and sched.last_momentum is None
        opt.step()
        sched.step()


def test_scheduled_momentum_without_momentum_setting_raises():
    opt = torch.optim.Adagrad([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="momentum"):
        Scheduled(opt, one_cycle(11, max_lr=1.0))
    Scheduled(opt, inv(base_lr=0.1, gamma=1e-4, power=0.75))  # an lr alone is fine


def _regression_problem() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(64, 1, generator=g)
    return x, y


def _make(opt_name: str, seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 1)
    if opt_name == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        fn = one_cycle(21, max_lr=0.1)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        fn = one_cycle(21, max_lr=1e-2, shape="cos")
    return model, opt, fn


def _train(model, opt, sched, steps: int) -> None:
    x, y = _regression_problem()
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
@pytest.mark.parametrize("order", ["scheduler_first", "optimizer_first"])
def test_scheduled_resume_is_exact(opt_name, order):
    model, opt, fn = _make(opt_name, seed=0)
    _train(model, opt, Scheduled(opt, fn), 20)
    uninterrupted = [p.detach().clone() for p in model.parameters()]

    model, opt, fn = _make(opt_name, seed=0)
    sched = Scheduled(opt, fn)
    _train(model, opt, sched, 10)
    assert "fn" not in sched.state_dict()
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                "sched": sched.state_dict()}, buf)
    at_ten = (dict(opt.param_groups[0]), sched.get_last_lr())

    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    model, opt, fn = _make(opt_name, seed=1)  # different initial weights, overwritten by the load
    model.load_state_dict(ckpt["model"])
    if order == "scheduler_first":  # torch's recommended order
        sched = Scheduled(opt, fn)
        opt.load_state_dict(ckpt["opt"])
    else:  # constructing the scheduler after the load resets lr/momentum to fn(0) ...
        opt.load_state_dict(ckpt["opt"])
        sched = Scheduled(opt, fn)
    sched.load_state_dict(ckpt["sched"])  # ... which load_state_dict puts back to fn(10)
    assert sched.last_epoch == 10 and sched.get_last_lr() == at_ten[1]
    for key in ("lr", "momentum", "betas"):
        assert opt.param_groups[0].get(key) == at_ten[0].get(key)

    _train(model, opt, sched, 10)
    for got, want in zip(model.parameters(), uninterrupted):
        assert torch.equal(got, want)


def test_one_cycle_spans_a_run_of_steps():
    fn = one_cycle(101, 0.1, div=10, pct_start=0.45, pct_anneal=0.1, final_div=100)
    assert fn(0) == pytest.approx((0.01, 0.95))
    assert fn(45) == pytest.approx((0.1, 0.85))
    assert fn(90) == pytest.approx((0.01, 0.95))
    assert fn(100) == pytest.approx((1e-4, 0.95))      # the last of 101 iterations ends the tail
    with pytest.raises(ValueError, match="steps"):
        one_cycle(1, 0.1)
    with pytest.raises(ValueError, match="pct_start"):
        one_cycle(100, 0.1, pct_start=1.5)


# ------------------------------------------------------------------------------ set_hparams

def test_set_hparams_writes_sgd_momentum_adam_beta1_and_lr_alone():
    sgd = _sgd(groups=2)
    set_hparams(sgd, 0.3, 0.8)
    assert [(g["lr"], g["momentum"]) for g in sgd.param_groups] == [(0.3, 0.8)] * 2
    set_hparams(sgd, 0.2)                                   # momentum None: kept
    assert [(g["lr"], g["momentum"]) for g in sgd.param_groups] == [(0.2, 0.8)] * 2
    adam = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=1e-3, betas=(0.9, 0.98))
    set_hparams(adam, 1e-2, 0.85)
    assert (adam.param_groups[0]["lr"], adam.param_groups[0]["betas"]) == (1e-2, (0.85, 0.98))
    for cls in (torch.optim.Adagrad, torch.optim.Adadelta):
        opt = cls([torch.zeros(1, requires_grad=True)], lr=0.1)
        set_hparams(opt, 0.05)
        assert opt.param_groups[0]["lr"] == 0.05
        with pytest.raises(ValueError, match="has no momentum"):
            set_hparams(opt, 0.05, 0.9)
        assert opt.param_groups[0]["lr"] == 0.05            # nothing written


def test_set_hparams_fills_tensor_slots_in_place_and_refuses_bad_values():
    opt = _sgd()
    lr_t, mom_t = torch.zeros(()), torch.zeros(())
    opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"] = lr_t, mom_t
    set_hparams(opt, 0.25, 0.9)
    assert opt.param_groups[0]["lr"] is lr_t and float(lr_t) == 0.25
    assert opt.param_groups[0]["momentum"] is mom_t and float(mom_t) == pytest.approx(0.9)
    opt = _sgd(lr=0.1, momentum=0.5)
    for lr, mom in ((NAN, 0.9), (math.inf, 0.9), (-0.1, 0.9), (0.1, 1.0), (0.1, NAN)):
        with pytest.raises(ValueError, match="set_hparams"):
            set_hparams(opt, lr, mom)
        assert (opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]) == (0.1, 0.5)


# ------------------------------------------- issue 13: nothing non-finite or out of range gets out

INF, NAN = math.inf, math.nan

NOT_FINITE = [
    # infinite or NaN arguments used to pass the `> 0` checks and give NaN (or inf) lrs
    (lambda: clr(0.01, INF, 7)(3), "max_lr"),
    (lambda: clr(INF, INF, 7)(3), "base_lr"),
    (lambda: clr(NAN, 0.1, 7)(3), "base_lr"),
    (lambda: clr(0.01, 0.1, 7, "exp_range", INF)(3), "gamma"),
    (lambda: one_cycle(101, INF)(3), "max_lr"),
    (lambda: one_cycle(101, 1.0, div=INF)(3), "div"),
    (lambda: one_cycle(101, 1.0, final_div=INF)(3), "final_div"),
    (lambda: one_cycle(101, 1.0, moms=(NAN, 0.85))(3), "moms[0]"),
    (lambda: one_cycle(101, 1.0, pct_start=NAN)(3), "pct_start"),
    (lambda: linear_sweep(10, 0.0, INF)(3), "end_lr"),
    (lambda: linear_sweep(10, NAN, 1.0)(3), "start_lr"),
    (lambda: exp_sweep(10, 1e-5, INF)(3), "end_lr"),
    (lambda: exp_sweep(10, INF, INF)(3), "start_lr"),
    (lambda: inv(INF, 1e-4, 0.75)(3), "base_lr"),
    (lambda: inv(0.01, INF, 0.75)(3), "gamma"),
    (lambda: inv(0.01, 1e-4, INF)(3), "power"),
    (lambda: one_cycle(100, INF), "max_lr"),
]


@pytest.mark.parametrize("call, name", NOT_FINITE,
                         ids=[f"{i}-{n}" for i, (_, n) in enumerate(NOT_FINITE)])
def test_infinite_and_nan_arguments_raise(call, name):
    with pytest.raises(ValueError, match=re.escape(name) + ".*finite|" + re.escape(name)):
        call()


@pytest.mark.parametrize("values, name", [
    ([0.1, -0.01], "values[1]"),
    ([NAN, 0.01], "values[0]"),
    ([0.1, INF], "values[1]"),
    ([0.1, "0.01"], "values[1]"),
])
def test_piecewise_refuses_negative_nan_and_inf_values(values, name):
    # even a value not yet reached fails: the schedule is checked before training starts
    with pytest.raises(ValueError, match=re.escape(name)):
        piecewise([5], values)(0)
    assert piecewise([5], [0.1, 0.0])(7) == 0.0            # 0 is a valid lr


def test_exp_range_gamma_above_one_is_refused():
    # gamma > 1 used to grow the amplitude without bound: 0.01 + 0.09 * 1.01**1000 ~ 1.9e3
    with pytest.raises(ValueError, match=r"gamma must be <= 1 in exp_range mode"):
        clr(0.01, 0.1, 7, "exp_range", 1.01)(1000)
    assert clr(0.01, 0.1, 7, "exp_range", 1.0)(7) == clr(0.01, 0.1, 7)(7)   # gamma 1: triangular
    assert clr(0.01, 0.1, 7, "triangular", 2.0)(7) == clr(0.01, 0.1, 7)(7)  # unused elsewhere


def test_triangular2_keeps_returning_base_lr_after_1024_cycles():
    # a cycle is 2 iterations with step_size 1: cycle k starts at iteration 2(k - 1)
    last_exact = clr(0.01, 0.1, 1, "triangular2")(2 * 1023 + 1)           # peak of cycle 1024
    assert last_exact == 0.01 + 0.09 * 2.0 ** -1023
    for step in (2 * 1024 + 1, 2 * 1030, 10**6 + 1, 10**9 + 1):           # used to overflow
        assert clr(0.01, 0.1, 1, "triangular2")(step) == 0.01
    # and it is still torch's CyclicLR wherever torch can compute it
    opt = _sgd()
    sched = CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=1, mode="triangular2",
                     cycle_momentum=False)
    for k in range(2 * 1023 + 2):   # torch's own next step() would overflow
        assert sched.get_last_lr()[0] == clr(0.01, 0.1, 1, "triangular2")(k), k
        opt.step()
        if k < 2 * 1023 + 1:
            sched.step()


@pytest.mark.parametrize("call, name", [
    (lambda: clr("0.01", 0.1, 7)(0), "base_lr"),
    (lambda: clr(0.01, "0.1", 7)(0), "max_lr"),
    (lambda: clr(0.01, 0.1, "7")(0), "step_size"),
    (lambda: clr(0.01, 0.1, True)(0), "step_size"),
    (lambda: clr(0.01, 0.1, 7, "exp_range", "0.99")(0), "gamma"),
    (lambda: one_cycle(True, 1.0), "steps"),
    (lambda: one_cycle(101, "1.0")(0), "max_lr"),
    (lambda: one_cycle(101, 1.0, moms=("0.95", 0.85))(0), "moms[0]"),
    (lambda: one_cycle(101, 1.0, moms="ab")(0), "moms"),
    (lambda: one_cycle(101, 1.0, div=None)(0), "div"),
    (lambda: inv(0.01, "1e-4", 0.75)(0), "gamma"),
    (lambda: linear_sweep(True, 0.0, 1.0), "steps"),
    (lambda: exp_sweep(10, "1e-5", 1.0)(0), "start_lr"),
    (lambda: piecewise(5, [0.1, 0.01])(0), "boundaries"),
    (lambda: one_cycle(True, 0.1), "steps"),
    (lambda: one_cycle(100, "0.1"), "max_lr"),
])
def test_strings_and_bools_raise_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=re.escape(name)):
        call()


FACTORIES = {   # factory: (arguments, steps to evaluate)
    "one_cycle": (lambda: one_cycle(101, 0.1, div=10, pct_start=0.3, pct_anneal=0.2,
                                    moms=(0.9, 0.8), shape="cos"), range(101)),
    "clr": (lambda: clr(0.01, 0.1, 7, "exp_range", 0.99), range(60)),
    "piecewise": (lambda: piecewise([10, 20], [0.1, 0.01, 0.001]), range(30)),
    "inv": (lambda: inv(0.01, 1e-4, 0.75), range(0, 10**5, 997)),
    "linear_sweep": (lambda: linear_sweep(50, 0.0, 3.0), range(51)),
    "exp_sweep": (lambda: exp_sweep(50, 1e-5, 10.0), range(51)),
}


@pytest.mark.parametrize("name", FACTORIES)
def test_factories_check_once_and_return_a_plain_closure(name, monkeypatch):
    make, steps = FACTORIES[name]
    fn = make()
    assert fn.__class__.__name__ == "function"
    want = [fn(s) for s in steps]
    assert all(np.isfinite(w).all() for w in want) and len(set(want)) > 1
    # no argument check runs per call: with the validators broken the closure still works
    for v in ("positive", "finite", "fraction", "momentum", "integer", "real", "non_negative"):
        monkeypatch.setattr(schedules.V, v, None)
    assert [fn(s) for s in steps] == want
    monkeypatch.undo()
    with pytest.raises(ValueError, match="step must be"):
        fn(-1)


def test_one_cycle_closure_values_and_its_range():
    fn = FACTORIES["one_cycle"][0]()
    assert fn(30) == (0.1, 0.8) and fn(100) == pytest.approx((1e-4, 0.9))
    for bad in (-1, 101):
        with pytest.raises(ValueError, match=r"step must be in \[0, 100\]"):
            fn(bad)
    assert one_cycle(np.int64(10), 0.1)(9)[0] == pytest.approx(1e-4)


@pytest.mark.parametrize("bad, what", [
    (NAN, "lr=nan"), (-0.1, "lr=-0.1"), (INF, "lr=inf"), ("0.1", "must return a number"),
    ((0.1, 1.5), "momentum=1.5"), ((0.1, NAN), "momentum=nan"), ((0.1, -0.1), "momentum=-0.1"),
    ((NAN, 0.9), "lr=nan"), ((0.1, 0.9, 0.5), "3 values"),
])
@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_scheduled_never_puts_a_bad_value_on_the_optimizer(bad, what, opt_name):
    good = [(0.1, 0.9), (0.2, 0.85), (0.3, 0.8)]

    def fn(step):
        return good[step] if step < 3 else bad
    p = torch.zeros(1, requires_grad=True)
    opt = (torch.optim.SGD([p], lr=0.5, momentum=0.5) if opt_name == "sgd"
           else torch.optim.Adam([p], lr=0.5, betas=(0.5, 0.99)))
    sched = Scheduled(opt, fn)
    for _ in range(2):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match=re.escape(what)) as info:
        opt.step()
        sched.step()
    assert "step 3" in str(info.value) or "3 values" in str(info.value)
    g = opt.param_groups[0]
    mom = g["momentum"] if opt_name == "sgd" else g["betas"][0]
    assert (g["lr"], mom) == (0.3, 0.8)         # still the last good values
    # the same bad value at construction: nothing is written at all
    p2 = torch.zeros(1, requires_grad=True)
    opt2 = torch.optim.SGD([p2], lr=0.5, momentum=0.5)
    with pytest.raises(ValueError):
        Scheduled(opt2, lambda s: bad)
    assert (opt2.param_groups[0]["lr"], opt2.param_groups[0]["momentum"]) == (0.5, 0.5)
