"""The CUDA-graph step of fit (superconv_lib.fast) must train to the same numbers as the eager
train_step with torch.optim. Its logic (tensor lr/momentum, the SGD update, warm-up, capture,
self-check, fall-back) runs on the CPU with an eager stand-in for the capture (fast._capture); the
capture itself is checked in the CUDA-only tests at the end (run on a GPU machine)."""
import contextlib
import math

import pytest
import torch
from torch import nn

from superconv_lib import data, fast, hessian, models, schedules, train

CUDA = torch.cuda.is_available()


def small_cnn(dropout: float = 0.0):
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * 10 * 10, 10), nn.Dropout(dropout))


def flat(model):
    return torch.cat([p.detach().double().reshape(-1) for p in model.parameters()])


# --- stand-ins for CUDA's capture, with fast._cuda_graph's arguments and result --------------------

def eager_capture(device, warmup, body):
    """"Capture" runs the step once, "replay" runs it again and writes the loss into the captured
    tensor, as a real graph would."""
    warmup()
    out = body()

    def replay():
        out.copy_(body())
    return out, replay


def empty_capture(device, warmup, body):
    """A graph that recorded nothing (what a capture on the wrong device gives)."""
    warmup()
    return body(), lambda: None


def failing_capture(device, warmup, body):
    warmup()
    try:
        raise RuntimeError("CUDA error: operation not permitted when stream is capturing")
    except RuntimeError:
        raise RuntimeError("operation failed due to a previous error during capture")


def forgetful_capture(model, what):
    """A replay that trains but then loses what ``what(model)`` names (a BatchNorm statistic or
    counter): a graph that did not record those writes."""
    def capture(device, warmup, body):
        out, replay = eager_capture(device, warmup, body)
        kept = what(model).clone()

        def forgetful():
            replay()
            what(model).copy_(kept)
        return out, forgetful
    return capture


@pytest.fixture
def on_cpu(monkeypatch):
    """Run the graph path's logic on the CPU: fast._capture becomes the eager stand-in."""
    monkeypatch.setattr(fast, "_capture", eager_capture)
    return monkeypatch


# --- the update: fast._sgd_update == torch.optim.SGD --------------------------------------------

@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 5e-4])
def test_tensor_sgd_update_matches_torch_sgd(nesterov, weight_decay):
    g = torch.Generator().manual_seed(0)
    shapes = [(5, 3), (7,), (2, 3, 3, 3)]
    start = [torch.randn(s, generator=g) for s in shapes]
    ref = [nn.Parameter(p.clone()) for p in start]
    ours = [nn.Parameter(p.clone()) for p in start]
    opt = torch.optim.SGD(ref, lr=0.1, momentum=0.9, weight_decay=weight_decay, nesterov=nesterov)
    mine = torch.optim.SGD(ours, lr=0.1, momentum=0.9, weight_decay=weight_decay,
                           nesterov=nesterov)
    fast._tensor_hparams(mine, torch.device("cpu"))
    assert isinstance(mine.param_groups[0]["lr"], torch.Tensor)
    fn = schedules.one_cycle(41, max_lr=0.5)
    for step in range(40):
        lr, mom = fn(step)
        grads = [torch.randn(s, generator=g) for s in shapes]
        for p, q, gr in zip(ref, ours, grads):
            p.grad, q.grad = gr.clone(), gr.clone()
        schedules.set_hparams(opt, lr, mom)
        schedules.set_hparams(mine, lr, mom)     # fills the tensors in place
        opt.step()
        fast._sgd_update(mine)
    for p, q in zip(ref, ours):
        torch.testing.assert_close(q.detach(), p.detach(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(mine.state[q]["momentum_buffer"],
                                   opt.state[p]["momentum_buffer"], rtol=1e-5, atol=1e-6)
    # the schedule moved the weights a long way: equal because the maths is, not because nothing moved
    assert (ours[0] - start[0]).abs().max() > 0.5
    fast.release(mine)
    assert type(mine.param_groups[0]["lr"]) is float
    assert mine.param_groups[0]["momentum"] == pytest.approx(fn(39)[1])


# --- the graph path's logic on the CPU ------------------------------------------------------------

def _fit(tiny_data, step_path, steps=60, model=None, **kw):
    x, y = tiny_data
    model = model or small_cnn()
    loader = data.Loader(x, y, 32, augment="flip", seed=1)
    fn = schedules.one_cycle(steps, max_lr=0.2)
    h = train.fit(model, loader, steps=steps, lr=fn, eval_data=(x, y), eval_every=30,
                  progress=False, step_path=step_path, **kw)
    return h, model


@pytest.mark.parametrize("nesterov", [False, True])
def test_graph_logic_trains_like_eager(tiny_data, on_cpu, nesterov):
    he, me = _fit(tiny_data, "eager", nesterov=nesterov)
    hg, mg = _fit(tiny_data, "graph", nesterov=nesterov)
    assert hg.info["step_path"] == "graph" and he.info["step_path"] == "eager"
    assert hg.info["step_path_reason"] == "asked for" and hg.info["precision"] == "fp32"
    assert hg.lr == he.lr and hg.momentum == he.momentum
    # warm-up, capture and the self-check all trained; none of it may leak into the run.
    # Rounding differs in the last bit (a·b then + versus a fused add); 60 steps keep it tiny
    assert hg.loss == pytest.approx(he.loss, rel=1e-4, abs=1e-5)
    assert [e.accuracy for e in hg.evals] == pytest.approx([e.accuracy for e in he.evals], abs=0.01)
    torch.testing.assert_close(flat(mg), flat(me), rtol=1e-4, atol=1e-5)
    # BatchNorm running statistics came along too, and its counter exactly
    torch.testing.assert_close(mg[1].running_var, me[1].running_var, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(mg[1].running_mean, me[1].running_mean, rtol=1e-4, atol=1e-5)
    assert int(mg[1].num_batches_tracked) == int(me[1].num_batches_tracked) == 60
    assert he.loss[-1] < 0.5 * he.loss[0]     # it learned, so the comparison means something


def test_dropout_model_takes_the_graph_and_draws_the_eager_masks(tiny_data, on_cpu):
    # the self-check replays from the warm-up's random state: dropout no longer forces eager
    def run(path, seed):
        model = small_cnn(dropout=0.3)
        torch.manual_seed(seed)         # the masks' random numbers
        return _fit(tiny_data, path, steps=30, model=model)
    he, me = run("eager", 11)
    hg, mg = run("auto", 11)
    assert hg.info["step_path"] == "graph", hg.info["step_path_reason"]
    assert hg.loss == pytest.approx(he.loss, rel=1e-4, abs=1e-5)     # the same masks, step by step
    torch.testing.assert_close(flat(mg), flat(me), rtol=1e-4, atol=1e-5)
    hd, _ = run("eager", 12)
    assert hd.loss[0] != pytest.approx(he.loss[0], rel=1e-3)          # other masks do show


def test_graph_leaves_an_ordinary_optimizer_for_an_eager_resume(tiny_data, on_cpu):
    x, y = tiny_data

    def run(paths):
        model = small_cnn()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
        loader = data.Loader(x, y, 32, seed=2)
        for path in paths:
            h = train.fit(model, loader, steps=20, lr=0.05, optimizer=opt, progress=False,
                          step_path=path)
            assert h.info["step_path"] == path
            assert type(opt.param_groups[0]["lr"]) is float
            assert type(opt.param_groups[0]["momentum"]) is float
        return model, opt

    m1, o1 = run(["graph", "eager"])
    m2, o2 = run(["eager", "eager"])
    torch.testing.assert_close(flat(m1), flat(m2), rtol=1e-4, atol=1e-5)
    b1 = o1.state[next(m1.parameters())]["momentum_buffer"]
    b2 = o2.state[next(m2.parameters())]["momentum_buffer"]
    torch.testing.assert_close(b1, b2, rtol=1e-4, atol=1e-5)
    assert b1.abs().max() > 1e-3


@pytest.mark.parametrize("capture", [eager_capture, empty_capture])
def test_the_optimizers_own_momentum_survives_the_capture(tiny_data, monkeypatch, capture):
    # momentum=None keeps the optimizer's own 0.7; the self-check's 0.9 must not stay behind,
    # whether the graph is taken or falls back
    monkeypatch.setattr(fast, "_capture", capture)
    x, y = tiny_data
    out = {}
    for path in ("eager", "auto"):
        model = small_cnn()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.7)
        with _maybe_warns(capture is empty_capture and path == "auto"):
            h = train.fit(model, data.Loader(x, y, 32, seed=2), steps=15, lr=0.05, momentum=None,
                          optimizer=opt, progress=False, step_path=path)
        assert h.momentum == [0.7] * 15 and opt.param_groups[0]["momentum"] == 0.7
        out[path] = h, model
    (he, me), (hg, mg) = out["eager"], out["auto"]
    assert hg.info["step_path"] == ("graph" if capture is eager_capture else "eager")
    assert hg.loss == pytest.approx(he.loss, rel=1e-4, abs=1e-5)
    torch.testing.assert_close(flat(mg), flat(me), rtol=1e-4, atol=1e-5)


def _maybe_warns(expected: bool):
    return pytest.warns(UserWarning, match="training eagerly") if expected else contextlib.nullcontext()


def test_hessian_free_callback_sees_the_same_weights_on_the_graph_path(tiny_data, on_cpu):
    out = {}
    for path in ("eager", "graph"):
        cb = hessian.HessianFreeLR(every=5)
        h, _ = _fit(tiny_data, path, steps=40, callbacks=[cb])
        assert h.info["step_path"] == path
        out[path] = cb.raw
    assert len(out["eager"]) == 8 and all(math.isfinite(v) for v in out["eager"])
    assert out["graph"] == pytest.approx(out["eager"], rel=1e-3)


def test_self_check_catches_a_graph_that_does_nothing(tiny_data, monkeypatch):
    monkeypatch.setattr(fast, "_capture", empty_capture)
    with pytest.raises(RuntimeError, match="captured step differs"):
        _fit(tiny_data, "graph", steps=5)
    he, me = _fit(tiny_data, "eager")
    with pytest.warns(UserWarning, match="training eagerly instead"):
        ha, ma = _fit(tiny_data, "auto")
    assert ha.info["step_path"] == "eager"
    assert "captured step differs" in ha.info["step_path_reason"]
    assert ha.loss == pytest.approx(he.loss, rel=1e-4, abs=1e-5)     # the fall-back is exact
    torch.testing.assert_close(flat(ma), flat(me), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("what, name", [
    (lambda m: m[1].running_var, "1.running_var"),                  # small next to the weights
    (lambda m: m[1].num_batches_tracked, "1.num_batches_tracked"),  # an integer: exactly
])
def test_self_check_compares_every_state_tensor_on_its_own_scale(tiny_data, monkeypatch, what,
                                                                   name):
    model = small_cnn()
    monkeypatch.setattr(fast, "_capture", forgetful_capture(model, what))
    with pytest.raises(RuntimeError, match=r"1 state tensors differ, e\.g\. " + name):
        _fit(tiny_data, "graph", steps=5, model=model)


def test_failed_capture_falls_back_naming_the_first_error(tiny_data, monkeypatch):
    monkeypatch.setattr(fast, "_capture", failing_capture)
    he, me = _fit(tiny_data, "eager")
    with pytest.warns(UserWarning, match="capture failed"):
        ha, ma = _fit(tiny_data, "auto")
    assert "operation not permitted when stream is capturing" in ha.info["step_path_reason"]
    assert ha.loss == pytest.approx(he.loss, rel=1e-4, abs=1e-5)
    torch.testing.assert_close(flat(ma), flat(me), rtol=1e-4, atol=1e-5)


def test_auto_on_the_cpu_is_eager_fp32_and_says_why(tiny_data):
    h, _ = _fit(tiny_data, "auto", steps=5)
    assert h.info["step_path"] == "eager" and "cpu" in h.info["step_path_reason"]
    assert h.info["precision"] == "fp32" and h.info["setup_s"] >= 0
    assert "fast" not in h.info and "fast_reason" not in h.info


def test_bf16_on_the_cpu_trains_close_to_fp32(tiny_data):
    h32, _ = _fit(tiny_data, "eager", steps=30)
    h16, _ = _fit(tiny_data, "eager", steps=30, precision="bf16")
    assert h16.info["precision"] == "bf16"
    assert h16.loss != h32.loss                                    # autocast really was on
    assert h16.loss[-1] == pytest.approx(h32.loss[-1], rel=0.2, abs=0.05)


def test_why_not_says_why(tiny_data, on_cpu):
    x, y = tiny_data
    model = small_cnn()
    even = data.Loader(x, y, 32)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    assert fast.why_not(sgd, even) is None
    assert "Adam" in fast.why_not(torch.optim.Adam(model.parameters()), even)
    damp = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, dampening=0.1)
    assert "dampening" in fast.why_not(damp, even)
    uneven = data.Loader(x, y, 100, drop_last=False)        # 640 = 6 x 100 + 40
    assert "40 images" in fast.why_not(sgd, uneven)
    groups = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.1},
                              {"params": model[4].parameters(), "lr": 0.2}], momentum=0.9)
    assert "different lr" in fast.why_not(groups, even)
    # and fit says so: auto trains eagerly and records why
    h = train.fit(small_cnn(), even, steps=3, lr=1e-3, optimizer="adam", progress=False)
    assert h.info["step_path"] == "eager" and "Adam" in h.info["step_path_reason"]
    on_cpu.undo()
    assert "CUDA GPU" in fast.why_not(sgd, even)


def test_clear_errors(tiny_data):
    x, y = tiny_data
    loader = data.Loader(x, y, 32)
    with pytest.raises(ValueError, match="step_path must be one of"):
        train.fit(small_cnn(), loader, steps=2, lr=0.1, step_path="turbo", progress=False)
    for bad in ("fp16", "tf32", "auto"):
        with pytest.raises(ValueError, match="precision must be one of"):
            train.fit(small_cnn(), loader, steps=2, lr=0.1, precision=bad, progress=False)
    if not CUDA:
        with pytest.raises(ValueError, match="CUDA graphs need a CUDA GPU"):
            train.fit(small_cnn(), loader, steps=2, lr=0.1, step_path="graph", progress=False)
    with pytest.raises(ValueError, match="precision must be one of"):
        train.train_step(small_cnn(), torch.optim.SGD(small_cnn().parameters(), lr=0.1),
                         *next(iter(loader)), precision="bf61")


def test_clear_errors_with_the_graph_logic(tiny_data, on_cpu):
    x, y = tiny_data
    with pytest.raises(ValueError, match="Adam.*step_path='auto'"):
        train.fit(small_cnn(), data.Loader(x, y, 32), steps=2, lr=1e-3, optimizer="adam",
                  step_path="graph", progress=False)


# --- on a GPU ----------------------------------------------------------------------------------

cuda_only = pytest.mark.skipif(not CUDA, reason="CUDA graphs need a CUDA GPU")


def _gpu_fit(path, steps=200, precision="bf16", seed=0):
    torch.manual_seed(seed)
    x, y = data.load("mnist", "train", limit=4096, device="cuda")
    xt, yt = data.load("mnist", "test", limit=2000, device="cuda")
    model = models.lenet()
    loader = data.Loader(x, y, 64, stats=((0,), (1,)))
    h = train.fit(model, loader, steps=steps, lr=schedules.one_cycle(steps, max_lr=0.1),
                  eval_data=(xt, yt), progress=False, step_path=path, precision=precision)
    return h, model


@cuda_only
@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_graph_matches_eager_on_cuda(offline, monkeypatch, precision):
    monkeypatch.setenv("SUPERCONV_DEVICE", "cuda")
    benchmark = torch.backends.cudnn.benchmark
    he, me = _gpu_fit("eager", precision=precision)
    hg, mg = _gpu_fit("graph", precision=precision)
    assert hg.info["step_path"] == "graph"
    assert torch.backends.cudnn.benchmark == benchmark          # switched on for the capture only
    assert hg.loss[:20] == pytest.approx(he.loss[:20], rel=2e-2, abs=2e-3)
    assert hg.final_accuracy == pytest.approx(he.final_accuracy, abs=0.01)
    assert he.final_accuracy > 0.9


@cuda_only
def test_auto_on_cuda_takes_the_graph_in_bf16(offline, monkeypatch):
    monkeypatch.setenv("SUPERCONV_DEVICE", "cuda")
    h, _ = _gpu_fit("auto", steps=50, precision=None)
    assert h.info["step_path"] == "graph", h.info
    assert h.info["precision"] == "bf16"


@cuda_only
def test_dropout_model_takes_the_graph_on_cuda(tiny_data):
    x, y = (t.cuda() for t in tiny_data)
    torch.manual_seed(0)
    model = small_cnn(dropout=0.3)
    h = train.fit(model, data.Loader(x, y, 32, seed=1), steps=30, lr=0.05, progress=False,
                  precision="fp32")
    assert h.info["step_path"] == "graph", h.info["step_path_reason"]
    assert h.loss[-1] < h.loss[0]


class SyncsInForward(nn.Module):
    """A model whose forward reads a value back to the host: not capturable."""

    def __init__(self):
        super().__init__()
        self.net = small_cnn()

    def forward(self, x):
        if float(x.abs().max()) > 1e9:       # a host sync, as .item() would be
            x = x / 2
        return self.net(x)


@cuda_only
def test_graph_with_batchnorm_matches_eager_on_cuda(tiny_data):
    x, y = (t.cuda() for t in tiny_data)

    def run(path):
        model = small_cnn()
        loader = data.Loader(x, y, 32, seed=1)
        h = train.fit(model, loader, steps=60, lr=schedules.one_cycle(60, max_lr=0.2),
                      progress=False, step_path=path, precision="fp32")
        return h, model
    he, me = run("eager")
    hg, mg = run("graph")
    assert hg.info["step_path"] == "graph"
    assert hg.loss[:10] == pytest.approx(he.loss[:10], rel=1e-3, abs=1e-4)
    torch.testing.assert_close(mg[1].running_var, me[1].running_var, rtol=1e-2, atol=1e-3)
    assert int(mg[1].num_batches_tracked) == int(me[1].num_batches_tracked) == 60


@cuda_only
def test_uncapturable_model_falls_back_on_cuda(tiny_data):
    x, y = (t.cuda() for t in tiny_data)
    torch.manual_seed(0)
    model = SyncsInForward()
    before = flat(model).cuda()
    loader = data.Loader(x, y, 32, seed=1)
    with pytest.warns(UserWarning, match="capture failed"):
        h = train.fit(model, loader, steps=1, lr=0.0, momentum=0.0, weight_decay=0.0,
                      progress=False, step_path="auto", precision="fp32")
    assert h.info["step_path"] == "eager"
    assert torch.cuda.current_stream() == torch.cuda.default_stream()
    torch.testing.assert_close(flat(model), before)     # lr 0: only the warm-up could have moved it


# --- the flagship case, on a GPU: a real CIFAR ResNet, bf16, BatchNorm, channels_last -------------

def _drift(ha, ma, hb, mb, start):
    """How far run b is from run a: the mean |loss difference| over the run relative to a's mean
    loss, and the distance between the final weights relative to the distance a's weights
    travelled from ``start`` (a missing or doubled update shows as ~1, rounding as ~1e-3)."""
    la, lb = torch.tensor(ha.loss), torch.tensor(hb.loss)
    loss = float((la - lb).abs().mean() / la.mean())
    wa, wb = flat(ma), flat(mb)
    weights = float((wb - wa).norm() / (wa - start).norm())
    return loss, weights


def _flagship(monkeypatch, record_property, device: str, *, limit: int, batch: int,
              steps: tuple = (5, 50), depth: int = 20, precision: str = "bf16") -> dict:
    """The flagship comparison (see the test below), on ``device``: ResNet-20, bf16, BatchNorm,
    channels_last on CUDA. Every run gets the same cuDNN choices: the autotuner on (as the graph
    has it for its capture) and deterministic algorithms only, so two eager runs agree exactly
    and the graph against its uncaptured step shows the capture alone."""
    monkeypatch.setenv("SUPERCONV_DEVICE", device)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    x, y = data.load("cifar10", "train", limit=limit, device=device)
    torch.manual_seed(0)
    start = flat(models.resnet_cifar(depth)).to(x.device)
    short = steps[0]

    def run(mode, steps):
        torch.manual_seed(0)
        model = models.resnet_cifar(depth)
        loader = data.Loader(x, y, batch, augment="crop+flip", seed=1)
        with monkeypatch.context() as m:
            if mode == "uncaptured" or device != "cuda":    # the graph path's step, uncaptured
                m.setattr(fast, "_capture", eager_capture)
            h = train.fit(model, loader, steps=steps, lr=schedules.one_cycle(steps, max_lr=0.4),
                          weight_decay=5e-4, progress=False,
                          step_path="eager" if mode == "eager" else "graph",
                          precision=precision)
        return h, model

    figures = {}
    for steps in steps:
        he, me = run("eager", steps)
        he2, me2 = run("eager", steps)
        hf, mf = run("uncaptured", steps)
        hg, mg = run("graph", steps)
        assert hg.info["step_path"] == hf.info["step_path"] == "graph"
        assert he.info["step_path"] == "eager"
        assert hg.info["precision"] == he.info["precision"] == precision
        assert hg.lr == he.lr and len(hg.loss) == len(he.loss) == steps
        for m in (me, mf, mg):
            assert int(m.layers[-1].bn2.num_batches_tracked) == steps
        noise = _drift(he, me, he2, me2, start)            # eager against eager
        capture = _drift(hf, mf, hg, mg, start)            # graph against its uncaptured step
        update = _drift(he, me, hf, mf, start)             # the tensor update against torch.optim
        loss_d, weight_d = _drift(he, me, hg, mg, start)   # graph against eager
        bn = [m.layers[-1].bn2.running_var for m in (mf, mg)]
        bn_d = float((bn[1] - bn[0]).norm() / bn[0].norm())
        for k, v in dict(loss_drift=loss_d, weight_drift=weight_d, capture_loss_drift=capture[0],
                         capture_weight_drift=capture[1], capture_bn_var_drift=bn_d,
                         update_loss_drift=update[0], update_weight_drift=update[1],
                         eager_loss_drift=noise[0], eager_weight_drift=noise[1],
                         first_loss=he.loss[0], last_loss=he.loss[-1]).items():
            figures[f"{k}_{steps}"] = v
            record_property(f"{k}_{steps}", round(v, 6))
        assert all(map(math.isfinite, (*noise, *capture, *update, loss_d, weight_d, bn_d)))
        assert hg.loss[0] == pytest.approx(he.loss[0], rel=1e-2)      # same weights, same batch
        if steps == short:
            # Before rounding differences grow: the capture adds nothing (graph == its uncaptured
            # step up to eager's own run-to-run noise), and the graph is as close to torch.optim's
            # step as the tensor update is. A defect (an update missed or doubled, an lr or
            # momentum not fed to the graph, BatchNorm statistics not replayed) shows as ~1.
            assert capture[1] <= max(0.01, 3 * noise[1]), (capture, noise)
            assert capture[0] <= max(0.002, 3 * noise[0]), (capture, noise)
            assert bn_d <= max(0.01, 3 * noise[1]), (bn_d, noise)
            assert loss_d <= max(0.02, 2 * update[0] + 3 * noise[0]), (loss_d, update, noise)
            assert weight_d <= max(0.05, 2 * update[1] + 3 * noise[1]), (weight_d, update, noise)
        else:
            # 50 steps at lr up to 0.4 are chaotic: a last-bit change in one weight moves the
            # final weights by tens of percent (measured on the CPU: 1 ulp in one stem weight,
            # 71 % of the distance travelled; the loss curve 1.5 %). What must hold: the graph
            # learns as eager does, its loss curve within 10 % of eager's on average.
            assert loss_d <= 0.1, (loss_d, update, noise)
            assert sum(hg.loss[-5:]) / 5 < 0.9 * sum(hg.loss[:5]) / 5
            assert sum(he.loss[-5:]) / 5 < 0.9 * sum(he.loss[:5]) / 5
    return figures


@cuda_only
def test_flagship_resnet20_bf16_graph_matches_eager_on_cuda(offline, monkeypatch, record_property):
    """ResNet-20 on CIFAR-10 in bf16 with BatchNorm and channels_last: the CUDA graph trains like
    the eager torch.optim loop, over 5 steps exactly (up to rounding) and over 50 in effect.

    Tolerance, measured rather than assumed. The graph is train_step with the tensor SGD update
    captured: against that step run uncaptured (fast._capture = the eager stand-in, on the GPU),
    with the same cuDNN algorithms (autotuned, deterministic), it replays the same kernels on the
    same batches, so the two may differ only as much as two eager runs differ (zero with
    deterministic kernels): at most 3x that, or 1 % of the distance the weights travelled.
    Against torch.optim's eager step the update itself rounds differently in the last bit (a
    fused p - lr*buf against fast._sgd_update's two ops): the graph may be as far from eager as
    the uncaptured step is (2x that, plus the eager noise), with floors of 2 % for the mean loss
    and 5 % for the weights. These are asserted after 5 steps; after 50 the runs have diverged
    by chaos alone (see _flagship), and the graph must learn as eager does."""
    _flagship(monkeypatch, record_property, "cuda", limit=5000, batch=256)


def test_graph_vs_eager_comparison_runs_on_the_cpu(offline, monkeypatch, record_property):
    """The flagship comparison's own code, on the CPU at a small size (ResNet-8, fp32, 3 steps;
    the "graph" is the eager stand-in there): it runs, its short-run bounds hold, and its figures
    are sane. The GPU run (tools/gpu_verify.sh, part 1) is the real test."""
    figures = _flagship(monkeypatch, record_property, "cpu", limit=256, batch=32, steps=(3,),
                        depth=8, precision="fp32")
    assert figures["eager_weight_drift_3"] == 0.0          # the CPU's kernels are deterministic
    assert figures["capture_weight_drift_3"] == 0.0        # the stand-in replays the same step
    assert 0 < figures["update_weight_drift_3"] < 0.05     # the tensor update rounds differently
