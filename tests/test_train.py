import math

import numpy as np
import pytest
import torch
from torch import nn

from superconv_lib import config, data, models, schedules, train


def small_net():
    return nn.Sequential(nn.Flatten(), nn.Linear(144, 32), nn.ReLU(), nn.Linear(32, 10))


def test_fit_mnist_subset_reaches_90_percent(offline):
    config.seed_everything(0)
    x, y = data.load("mnist", "train", limit=2000)
    xt, yt = data.load("mnist", "test", limit=1000)
    loader = data.Loader(x, y, 64)
    steps = 4 * len(loader)
    h = train.fit(models.lenet(), loader, steps=steps, lr=lambda s: schedules.one_cycle(s, steps, 0.05),
                  eval_data=(xt, yt), progress=False)
    assert h.final_accuracy >= 0.90, h
    assert len(h.evals) == 4 and [e.step for e in h.evals] == [31, 62, 93, 124]
    assert h.evals[-1].epoch == pytest.approx(4.0)
    assert h.loss[-1] < h.loss[0] / 3


def test_same_seed_same_history(tiny_data):
    x, y = tiny_data

    def run():
        config.seed_everything(7)
        return train.fit(small_net(), data.Loader(x, y, 32, seed=1), steps=40, lr=0.05,
                         eval_data=(x, y), eval_every=20, progress=False)
    a, b = run(), run()
    assert a.loss == b.loss and a.evals == b.evals and a.lr == b.lr


def test_schedule_sets_lr_and_momentum(tiny_data):
    x, y = tiny_data
    steps = 30
    fn = lambda s: schedules.one_cycle(s, steps, 0.1)
    h = train.fit(small_net(), data.Loader(x, y, 32), steps=steps, lr=fn, progress=False)
    want = [fn(s) for s in range(steps)]
    assert h.lr == pytest.approx([w[0] for w in want], abs=1e-12)
    assert h.momentum == pytest.approx([w[1] for w in want], abs=1e-12)
    assert len(h.loss) == steps and all(math.isfinite(v) for v in h.loss)


def test_momentum_function_and_adam_beta1(tiny_data):
    x, y = tiny_data
    model = small_net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    h = train.fit(model, data.Loader(x, y, 32), steps=5, lr=1e-3, momentum=lambda s: 0.9 - 0.01 * s,
                  optimizer=opt, progress=False)
    assert h.momentum == pytest.approx([0.9, 0.89, 0.88, 0.87, 0.86])
    assert opt.param_groups[0]["betas"] == pytest.approx((0.86, 0.999))


def test_divergence_raises_with_step_and_history(tiny_data):
    x, y = tiny_data
    with pytest.raises(train.TrainingDiverged) as info:
        train.fit(small_net(), data.Loader(x, y, 32), steps=60, lr=lambda s: 10.0 ** (s / 4),
                  read_every=10, progress=False)
    err = info.value
    assert not math.isfinite(err.history.loss[err.step])
    assert all(math.isfinite(v) for v in err.history.loss[:err.step])
    assert err.lr == pytest.approx(10.0 ** (err.step / 4))
    assert f"step {err.step}" in str(err) and "lr=" in str(err)


def test_callbacks_and_stop(tiny_data):
    x, y = tiny_data
    seen = {"steps": [], "chunks": [], "evals": 0, "begin": 0, "end": 0}

    class Spy:
        def on_train_begin(self, loop): seen["begin"] += 1
        def on_step_end(self, loop):
            seen["steps"].append(loop.step)
            if loop.step == 24:
                loop.stop = "enough"
        def on_losses(self, loop, first, losses): seen["chunks"].append((first, len(losses)))
        def on_eval(self, loop, point): seen["evals"] += 1
        def on_train_end(self, loop): seen["end"] += 1

    h = train.fit(small_net(), data.Loader(x, y, 32), steps=100, lr=0.05, read_every=10,
                  eval_data=(x, y), eval_every=10, callbacks=[Spy()], progress=False)
    assert seen["steps"] == list(range(25))
    assert seen["chunks"] == [(0, 10), (10, 10), (20, 5)]
    assert seen["evals"] == 2 and seen["begin"] == seen["end"] == 1
    assert h.stop_reason == "enough" and h.steps == 25 and len(h.lr) == 25


def test_evaluate_known_answer():
    # a model that always predicts class 3 with logits [0,..,0,L,0..]: accuracy = share of 3s
    class Const(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(10))

        def forward(self, x):
            out = torch.zeros(len(x), 10)
            out[:, 3] = 100.0
            return out + 0 * self.w
    y = torch.tensor([3, 3, 1, 3, 0, 3, 2, 3])
    x = torch.zeros(8, 1, 2, 2, dtype=torch.uint8)
    loss, acc = train.evaluate(Const(), (x, y), normalize=lambda t: t.float(), batch_size=3)
    assert acc == pytest.approx(5 / 8)
    assert loss == pytest.approx(3 / 8 * 100.0, rel=1e-6)


def test_epochs_and_eval_default(tiny_data):
    x, y = tiny_data
    loader = data.Loader(x, y, 64)
    h = train.fit(small_net(), loader, epochs=2.5, lr=0.05, eval_data=(x, y), progress=False)
    assert h.steps == 25 and [e.step for e in h.evals] == [10, 20, 25]


def test_to_csv_rows(tiny_data, tmp_path):
    x, y = tiny_data
    h = train.fit(small_net(), data.Loader(x, y, 64), steps=12, lr=0.05, eval_data=(x, y),
                  eval_every=6, progress=False)
    text = h.to_csv(tmp_path / "h.csv")
    rows = text.strip().splitlines()
    assert rows[0] == "step,epoch,lr,momentum,loss,eval_loss,eval_accuracy" and len(rows) == 13
    assert rows[6].split(",")[-1] != "" and rows[5].split(",")[-1] == ""
    assert (tmp_path / "h.csv").read_text() == text


def test_compare_table(tiny_data):
    x, y = tiny_data
    h = train.fit(small_net(), data.Loader(x, y, 64), steps=10, lr=0.05, eval_data=(x, y),
                  progress=False, label="a")
    table = train.compare({"first": h, "second": h})
    assert "first" in table and f"{h.final_accuracy:.2%}" in table and len(table.splitlines()) == 3


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=0.1), "exactly one of steps"),
    (dict(lr=0.1, steps=10, epochs=1), "exactly one of steps"),
    (dict(lr=0.1, steps=0), "steps"),
    (dict(lr="fast", steps=5), "lr must be"),
    (dict(lr=0.1, steps=5, eval_every=0), "eval_every"),
    (dict(lr=0.1, steps=5, optimizer="lbfgs"), "optimizer"),
    (dict(lr=0.1, steps=5, weight_decay=-1), "weight_decay"),
    (dict(lr=lambda s: -1.0, steps=5), "lr=-1"),
    (dict(lr=0.1, steps=5, eval_data=[1, 2, 3]), "eval_data"),
])
def test_fit_bad_args(tiny_data, kwargs, match):
    x, y = tiny_data
    with pytest.raises(ValueError, match=match):
        train.fit(small_net(), data.Loader(x, y, 64), progress=False, **kwargs)


def test_fit_needs_a_loader(tiny_data):
    x, y = tiny_data
    with pytest.raises(ValueError, match="Loader"):
        train.fit(small_net(), [(x.float(), y)], steps=3, lr=0.1)


def test_history_csv_round_trip(tiny_data):
    x, y = tiny_data
    h = train.fit(small_net(), data.Loader(x, y, 64), steps=12, lr=0.05, eval_data=(x, y),
                  eval_every=6, progress=False)
    back = train.History.from_csv(h.to_csv(), h.steps_per_epoch, "again")
    assert back.loss == pytest.approx(h.loss, rel=1e-7) and back.lr == pytest.approx(h.lr)
    assert [(e.step, e.epoch) for e in back.evals] == [(e.step, e.epoch) for e in h.evals]
    assert back.final_accuracy == pytest.approx(h.final_accuracy, rel=1e-5)


def test_named_runs():
    class R:
        label = ""
    r = R()
    assert train.named_runs({"a": r}) == [("a", r)] and train.named_runs([r]) == [("run 0", r)]
    with pytest.raises(ValueError, match="at least one"):
        train.named_runs([])
