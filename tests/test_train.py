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
    h = train.fit(models.lenet(), loader, steps=steps, lr=schedules.one_cycle(steps, 0.05),
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
    fn = schedules.one_cycle(steps, 0.1)
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


def test_table(tiny_data):
    x, y = tiny_data
    h = train.fit(small_net(), data.Loader(x, y, 64), steps=10, lr=0.05, eval_data=(x, y),
                  progress=False, label="a")
    table = train.table({"first": h, "second": h})
    assert "first" in table and f"{h.final_accuracy:.2%}" in table and len(table.splitlines()) == 3


def test_runs_share_the_seed_and_the_batch_order(tiny_data):
    x, y = tiny_data
    loader = data.Loader(x, y, 64, augment="flip", seed=3)
    loader.epoch = 2
    lrs = {"a": 0.05, "b": schedules.one_cycle(15, 0.1), "a again": 0.05, "wild": 1e6}
    out = train.runs(small_net, loader, lrs, seed=5, steps={"a": 15, "b": 15, "a again": 15,
                                                           "wild": 15}, progress=False)
    assert list(out) == list(lrs) and loader.epoch == 2          # the loader is put back
    assert out["a"].loss == out["a again"].loss                   # same init, same batches
    assert out["a"].loss[0] == out["b"].loss[0]                   # same first weights and batch
    assert out["b"].loss[1] != out["a"].loss[1]                   # the schedules differ after
    assert out["wild"].stop_reason and "non-finite" in out["wild"].stop_reason   # kept
    h = train.runs(small_net, loader, {"x": 0.05}, seed=6, steps=15, progress=False)["x"]
    assert h.loss[0] != out["a"].loss[0]                          # another seed, other weights


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


# ---------------------------------------------- issue 13: every value that reaches the optimizer

def _params(model):
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=5, lr=0.1, momentum=1.5), r"momentum must be in \[0, 1\) \(got 1.5\)"),
    (dict(steps=5, lr=0.1, momentum=1.0), r"momentum must be in \[0, 1\)"),
    (dict(steps=5, lr=0.1, momentum=float("nan")), r"momentum must be in \[0, 1\)"),
    (dict(steps=5, lr=0.1, momentum="0.9"), "momentum must be a number or a function"),
    (dict(steps=5, lr=float("inf")), "lr must be a finite number"),
    (dict(steps=5, lr=float("nan")), "lr must be a finite number"),
    (dict(steps=5, lr=-0.1), "lr must be >= 0"),
    (dict(steps=5, lr=True), "lr must be a number or a function"),
    (dict(steps=True, lr=0.1), "steps must be an integer"),
    (dict(steps=5.0, lr=0.1), "steps must be an integer"),
    (dict(steps="5", lr=0.1), "steps must be an integer"),
    (dict(epochs=float("inf"), lr=0.1), "epochs must be a finite number"),
    (dict(epochs=float("nan"), lr=0.1), "epochs must be a finite number"),
    (dict(epochs="2", lr=0.1), "epochs must be a number"),
    (dict(epochs=1e300, lr=0.1), "epochs=1e"),
    (dict(steps=5, lr=0.1, weight_decay=float("nan")), "weight_decay must be a finite number"),
    (dict(steps=5, lr=0.1, weight_decay=float("inf")), "weight_decay must be a finite number"),
    (dict(steps=5, lr=0.1, weight_decay="5e-4"), "weight_decay must be a number"),
    (dict(steps=5, lr=0.1, eval_every=True), "eval_every must be an integer"),
    (dict(steps=5, lr=0.1, read_every=True), "read_every must be an integer"),
    (dict(steps=5, lr=0.1, nesterov="yes"), "nesterov must be True or False"),
])
def test_fit_refuses_bad_values_before_training(tiny_data, kwargs, match):
    x, y = tiny_data
    model = small_net()
    before = _params(model)
    with pytest.raises(ValueError, match=match):
        train.fit(model, data.Loader(x, y, 64), progress=False, **kwargs)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_weight_decay_nan_is_named_not_blamed_on_the_lr(tiny_data):
    x, y = tiny_data
    with pytest.raises(ValueError) as info:
        train.fit(small_net(), data.Loader(x, y, 64), steps=5, lr=0.05,
                  weight_decay=float("nan"), progress=False)
    assert "weight_decay" in str(info.value) and "learning rate" not in str(info.value)
    assert not isinstance(info.value, train.TrainingDiverged)


@pytest.mark.parametrize("schedule, match", [
    (lambda s: (0.05, 1.5), r"momentum=1.5 at step 0"),
    (lambda s: (0.05, 0.9) if s < 3 else (0.05, float("nan")), r"momentum=nan at step 3"),
    (lambda s: (0.05, 0.9) if s < 2 else (float("inf"), 0.9), r"lr=inf at step 2"),
    (lambda s: 0.05 if s < 4 else float("nan"), r"lr=nan at step 4"),
    (lambda s: (0.05, 0.9, 0.1), r"3 values"),
    (lambda s: "0.05", "must return a number"),
])
def test_fit_refuses_bad_schedule_values_at_the_step(tiny_data, schedule, match):
    x, y = tiny_data
    model = small_net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    seen = []

    class Watch:      # what the optimizer held at every step that ran
        def on_step_end(self, loop):
            g = opt.param_groups[0]
            seen.append((g["lr"], g["momentum"]))
    with pytest.raises(ValueError, match=match):
        train.fit(model, data.Loader(x, y, 64), steps=8, lr=schedule, optimizer=opt,
                  callbacks=[Watch()], progress=False)
    assert all(0 <= lr < math.inf and 0 <= m < 1 for lr, m in seen)


def test_a_nan_momentum_function_is_not_ignored(tiny_data):
    # it used to be skipped silently: the optimizer kept its old momentum
    x, y = tiny_data
    with pytest.raises(ValueError, match=r"momentum=nan at step 0"):
        train.fit(small_net(), data.Loader(x, y, 64), steps=3, lr=0.05,
                  momentum=lambda s: float("nan"), progress=False)
    # momentum=None still means "keep the optimizer's own"
    model = small_net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.7)
    h = train.fit(model, data.Loader(x, y, 64), steps=3, lr=0.05, momentum=None, optimizer=opt,
                  progress=False)
    assert h.momentum == [0.7, 0.7, 0.7] and h.lr == [0.05] * 3


def test_fit_refuses_an_optimizer_with_a_bad_momentum_it_would_keep(tiny_data):
    x, y = tiny_data
    model = small_net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=1.5)   # torch allows this
    with pytest.raises(ValueError, match=r"the optimizer's momentum \(beta1\) must be in \[0, 1\)"):
        train.fit(model, data.Loader(x, y, 64), steps=2, lr=0.05, momentum=None, optimizer=opt,
                  progress=False)
    # with a momentum given, fit overwrites the optimizer's before the first step
    h = train.fit(model, data.Loader(x, y, 64), steps=2, lr=0.05, momentum=0.9, optimizer=opt,
                  progress=False)
    assert h.momentum == [0.9, 0.9] and opt.param_groups[0]["momentum"] == 0.9


def test_numpy_numbers_are_numbers(tiny_data):
    x, y = tiny_data
    h = train.fit(small_net(), data.Loader(x, y, 64), steps=np.int64(3), lr=np.float32(0.05),
                  momentum=np.float64(0.8), weight_decay=np.float32(0.0), progress=False)
    assert h.steps == 3 and h.lr == [pytest.approx(0.05)] * 3 and h.momentum == [0.8] * 3


@pytest.mark.parametrize("args, name", [
    ((float("nan"), 0.9, 0.0), "lr"), ((0.1, 1.5, 0.0), "momentum"),
    ((0.1, 0.9, float("nan")), "weight_decay"), ((-1.0, 0.9, 0.0), "lr"),
])
def test_make_optimizer_refuses_bad_values(args, name):
    with pytest.raises(ValueError, match=f"make_optimizer: {name}"):
        train.make_optimizer(small_net(), "sgd", *args)


def test_to_csv_keeps_momentum_to_8_significant_digits():
    h = train.History(steps_per_epoch=2)
    h.lr, h.momentum, h.loss = [0.1, 0.2], [0.912345678912, 0.85000000004], [2.3, 2.1]
    h.evals = [train.EvalPoint(2, 1.0, 0.2, 2.0, 0.123456789)]
    back = train.History.from_csv(h.to_csv(), 2)
    assert back.momentum == [0.91234568, 0.85]                # 6 digits gave 0.912346
    assert back.evals[0].accuracy == 0.12345679
    assert back.lr == h.lr and back.loss == h.loss


@pytest.mark.parametrize("text, match", [
    ("step,lr\n0,0.1\n", "header lacks"),
    ("step,epoch,lr,momentum,loss,eval_loss,eval_accuracy\n0,1,abc,0.9,2.3,,\n", "line 2"),
    ("step,epoch,lr,momentum,loss,eval_loss,eval_accuracy\n0,1,0.1\n", "line 2.*3 fields"),
    ("step,epoch,lr,momentum,loss,eval_loss,eval_accuracy\n0,x,1,0.1,0.9,2.3,,\n", "8 fields"),
    ("step,epoch,lr,momentum,loss,eval_loss,eval_accuracy\n0,1,0.1,0.9,2.3,,\n"
     "5,1,0.1,0.9,2.3,,\n", "step 5 where step 1"),
])
def test_from_csv_names_the_bad_line(text, match):
    with pytest.raises(ValueError, match=match):
        train.History.from_csv(text, 2)


# ----------------------------------------- the optimizers Smith & Topin compare, by name

@pytest.mark.parametrize("name, cls, momentum_slot", [
    ("sgd", torch.optim.SGD, "momentum"), ("nesterov", torch.optim.SGD, "momentum"),
    ("adam", torch.optim.Adam, "betas"), ("adamw", torch.optim.AdamW, "betas"),
    ("adagrad", torch.optim.Adagrad, None), ("adadelta", torch.optim.Adadelta, None),
])
def test_make_optimizer_names(name, cls, momentum_slot):
    opt = train.make_optimizer(small_net(), name, 0.05, 0.85, 1e-4)
    g = opt.param_groups[0]
    assert type(opt) is cls and g["lr"] == 0.05 and g["weight_decay"] == 1e-4
    if momentum_slot == "momentum":
        assert g["momentum"] == 0.85 and g["nesterov"] == (name == "nesterov")
    elif momentum_slot == "betas":
        assert g["betas"] == (0.85, 0.999)
    else:
        assert "momentum" not in g and "betas" not in g


def test_make_optimizer_refuses_unknown_names_and_nesterov_without_momentum():
    with pytest.raises(ValueError, match="sgd, nesterov, adam, adamw, adagrad, adadelta"):
        train.make_optimizer(small_net(), "lbfgs", 0.1, 0.9, 0.0)
    with pytest.raises(ValueError, match="'nesterov' needs a momentum > 0"):
        train.make_optimizer(small_net(), "nesterov", 0.1, 0.0, 0.0)


@pytest.mark.parametrize("name", ["adagrad", "adadelta"])
def test_fit_trains_optimizers_without_momentum(tiny_data, name):
    x, y = tiny_data
    lr = 0.05 if name == "adagrad" else 1.0
    h = train.fit(small_net(), data.Loader(x, y, 64), steps=40, lr=lr, optimizer=name,
                  progress=False)          # the default momentum=0.9 is not used
    assert h.info["optimizer"] == name and all(math.isnan(m) for m in h.momentum)
    assert h.lr == [lr] * 40 and np.mean(h.loss[-5:]) < 0.7 * np.mean(h.loss[:5])
    with pytest.raises(ValueError, match="has no momentum"):
        train.fit(small_net(), data.Loader(x, y, 64), steps=4, optimizer=name,
                  lr=schedules.one_cycle(4, 0.1), progress=False)
    with pytest.raises(ValueError, match="has no momentum"):
        train.fit(small_net(), data.Loader(x, y, 64), steps=4, optimizer=name, lr=0.1,
                  momentum=lambda s: 0.9, progress=False)


def test_nesterov_by_name_and_by_flag_train_alike(tiny_data):
    x, y = tiny_data
    out = train.runs(small_net, data.Loader(x, y, 64, seed=0), {"a": 0.05, "b": 0.05, "c": 0.05},
                     steps=20, progress=False)
    lrs = {"a": 0.05, "b": 0.05, "c": 0.05}
    loader = data.Loader(x, y, 64, seed=0)
    a = train.runs(small_net, loader, lrs, steps=20, optimizer="nesterov", progress=False)["a"]
    b = train.runs(small_net, loader, lrs, steps=20, nesterov=True, progress=False)["b"]
    c = out["c"]
    assert a.loss == b.loss and a.loss[0] == c.loss[0] and a.loss[1:] != c.loss[1:]
    with pytest.raises(ValueError, match="nesterov=True is SGD's"):
        train.fit(small_net(), data.Loader(x, y, 64), steps=2, lr=0.05, optimizer="adam",
                  nesterov=True, progress=False)


def test_eval_on_records_a_second_set_at_fits_eval_points(tiny_data):
    x, y = tiny_data
    config.seed_everything(0)
    model = small_net()
    subset = (x[:64], y[:64])
    cb = train.EvalOn(subset, label="train subset")
    h = train.fit(model, data.Loader(x, y, 32), steps=40, lr=0.05, eval_data=(x[64:], y[64:]),
                  eval_every=10, callbacks=[cb], progress=False)
    assert [e.step for e in cb.history.evals] == [e.step for e in h.evals] == [10, 20, 30, 40]
    assert [e.lr for e in cb.history.evals] == [e.lr for e in h.evals]
    # the last point is the trained model on the subset, exactly what evaluate() says
    loader = data.Loader(x, y, 32)
    loss, acc = train.evaluate(model, subset, normalize=loader.normalize)
    assert cb.history.evals[-1].loss == pytest.approx(loss, rel=1e-6)
    assert cb.history.final_accuracy == pytest.approx(acc)
    assert cb.history.label == "train subset"


def test_table_says_which_runs_stopped(tiny_data):
    x, y = tiny_data
    loader = data.Loader(x, y, 32)
    ok = train.fit(small_net(), loader, steps=4, lr=0.01, eval_data=(x, y), progress=False)
    try:
        train.fit(small_net(), loader, steps=60, lr=1e6, eval_data=(x, y), read_every=1,
                  progress=False)
    except train.TrainingDiverged as err:
        bad = err.history
    text = train.table({"fine": ok, "blown up": bad})
    assert "stopped: non-finite loss" in text.splitlines()[2]
    assert "stopped" not in text.splitlines()[1]


class CountingBar:
    def __init__(self, steps, label):
        self.steps, self.label, self.done, self.postfix, self.closed = steps, label, 0, {}, False

    def update(self, n=1):
        self.done += n

    def set_postfix(self, refresh=True, **values):
        self.postfix = values

    def close(self):
        self.closed = True


def test_progress_to_lends_a_bar_to_every_fit_of_this_thread(tiny_data, monkeypatch):
    """train.progress_to: every fit inside the block drives the lent bar, also in quick mode and
    under progress=False; nested blocks lend the innermost; other threads and code after the
    block keep fit's own (none in quick mode)."""
    import threading
    monkeypatch.setenv("SUPERCONV_QUICK", "1")
    x, y = tiny_data
    config.seed_everything(0)
    bars, inner = [], []
    with train.progress_to(lambda steps, label: bars.append(CountingBar(steps, label)) or bars[-1]):
        train.fit(small_net(), data.Loader(x, y, 32), steps=25, lr=0.05, label="first",
                  progress=False, read_every=10)
        with train.progress_to(lambda steps, label: inner.append(CountingBar(steps, label))
                               or inner[-1]):
            train.fit(small_net(), data.Loader(x, y, 32), steps=7, lr=0.05, label="inner")
        other = []
        t = threading.Thread(target=lambda: other.append(train._progress(9, True, "x")))
        t.start()
        t.join()
        train.fit(small_net(), data.Loader(x, y, 32), steps=5, lr=0.05)
    assert [(b.steps, b.label, b.done, b.closed) for b in bars] == \
        [(25, "first", 25, True), (5, "", 5, True)]
    assert 0 <= float(bars[0].postfix["loss"]) < 10               # the last loss read, shown
    assert [(b.steps, b.label, b.done) for b in inner] == [(7, "inner", 7)]
    assert other == [None]                                 # quick mode, another thread: no bar
    assert train._progress(5, True, "x") is None           # the block is over
    with pytest.raises(TypeError, match="progress_to needs a callable"):
        with train.progress_to("tqdm"):
            pass
