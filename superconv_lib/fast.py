"""fast: replay train.py's training step as one CUDA graph.

Why this matters for super-convergence: the course's small models do very little arithmetic per
step. A LeNet step on MNIST at batch 64 is a few microseconds of GPU work but ~100 kernel launches
issued one by one from Python, so an eager loop runs at the speed of Python, not of the GPU (the
seed's 12-epoch MNIST run: ≈ 20 s eager, almost all of it launch overhead). A CUDA graph records
the launches of one whole step once and replays them with a single call.

A graph replays *fixed* kernels on *fixed* memory, so everything a step reads must live in tensors
that stay put: the batch is copied into a static input buffer, and the learning rate and momentum —
which the schedule changes every iteration — live in the optimizer's param groups as 0-d device
tensors that ``schedules.set_hparams`` fills before each replay (a host-to-device fill, no sync).
``torch.optim.SGD`` bakes lr and momentum into its kernels as Python floats, so the captured step
is ``train.train_step`` with :func:`_sgd_update`, the same SGD update written with
``torch._foreach_*`` ops on those tensors (tested equal to ``torch.optim.SGD`` on the CPU).

:func:`graph` warms the step up and captures it on one side stream, then replays two steps and
checks them against two uncaptured ones from the same state and random numbers; a capture that
fails or differs raises :class:`CaptureFailed` (``fit(step_path="auto")`` then trains eagerly and
says why in ``History.info["step_path_reason"]``).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import torch
from torch import nn

from . import schedules

if TYPE_CHECKING:
    from .data import Loader

__all__ = ["graph", "why_not", "release", "CaptureFailed", "StepFn"]

StepFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""A training step: ``step(xb, yb)`` trains on one batch and returns the loss as a 0-d device
tensor (no host sync)."""

CHECK_LR, CHECK_MOMENTUM = 1e-2, 0.9    # the self-check's steps (the state is put back after)


class CaptureFailed(RuntimeError):
    """The step could not be captured, or its replay differs from the uncaptured step."""


@torch.no_grad()
def _sgd_update(optimizer: torch.optim.SGD) -> None:
    """``torch.optim.SGD``'s update (heavy-ball momentum, L2 weight decay, dampening 0):
    ``g ← grad + wd·θ;  v ← μ·v + g;  θ ← θ − ε·v`` (Nesterov: ``θ ← θ − ε·(g + μ·v)``), reading
    the learning rate ε and momentum μ from the param groups as 0-d tensors, so that a graph can
    replay it while a schedule changes them. The momentum buffers start at zero
    (``μ·0 + g = g`` is torch's first step exactly)."""
    for g in optimizer.param_groups:
        params = [p for p in g["params"] if p.grad is not None]   # torch's SGD skips these too
        if not params:
            continue
        grads = [p.grad for p in params]
        bufs = [optimizer.state[p]["momentum_buffer"] for p in params]
        if g["weight_decay"] != 0:
            grads = torch._foreach_add(grads, params, alpha=g["weight_decay"])
        torch._foreach_mul_(bufs, g["momentum"])
        torch._foreach_add_(bufs, grads)
        if g["nesterov"]:
            step = torch._foreach_mul(bufs, g["momentum"])
            torch._foreach_add_(step, grads)
        else:
            step = bufs
        torch._foreach_add_(params, torch._foreach_mul(step, -g["lr"]))


def _cuda_graph(device: torch.device, warmup: Callable[[], None], body: Callable[[], torch.Tensor]
                ) -> tuple[torch.Tensor, Callable[[], None]]:
    """Run ``warmup``, then capture ``body`` as one CUDA graph, both on one side stream (as
    ``torch.cuda.make_graphed_callables`` does: the warm-up's allocations and cuDNN's choices are
    made on the stream the capture uses). Returns ``body``'s output (rewritten by every replay)
    and the replay."""
    side = torch.cuda.Stream(device=device)
    side.wait_stream(torch.cuda.current_stream(device))
    cuda_graph = torch.cuda.CUDAGraph()
    benchmark = torch.backends.cudnn.benchmark
    # cuDNN's autotuner times the convolution algorithms on the first call of each shape and
    # keeps the fastest. Worth it here: a graph has one fixed shape, the warm-up pays for the
    # tuning once, and every replay runs the winners.
    torch.backends.cudnn.benchmark = True
    try:
        with torch.cuda.stream(side):   # also makes the old stream current again after an error
            warmup()
            with torch.cuda.graph(cuda_graph, stream=side):
                out = body()
    except BaseException:
        torch.cuda.synchronize(device)  # a failed capture: let the work queued before it finish
        raise
    finally:
        torch.backends.cudnn.benchmark = benchmark
        torch.cuda.current_stream(device).wait_stream(side)
    return out, cuda_graph.replay


_capture = _cuda_graph
"""How :func:`graph` captures. Tests on a machine without a GPU put an eager stand-in here (same
arguments and result), which runs the graph path's logic and its SGD update on the CPU."""


def why_not(optimizer: torch.optim.Optimizer, loader: "Loader") -> str | None:
    """Why this run's step cannot be replayed as a graph, or None if it can."""
    device = loader.device
    if device.type != "cuda" and _capture is _cuda_graph:
        return f"CUDA graphs need a CUDA GPU; this run is on {device.type}"
    if type(optimizer) is not torch.optim.SGD:
        return (f"the optimizer is {type(optimizer).__name__}; the graph step implements "
                "torch.optim.SGD only")
    for g in optimizer.param_groups:
        if g.get("dampening", 0) != 0 or g.get("maximize") or g.get("differentiable"):
            return "SGD with dampening, maximize or differentiable is not implemented by the graph step"
        if any(p.device != device for p in g["params"]):
            return "some parameters are not on the loader's device"
    if len({float(g["lr"]) for g in optimizer.param_groups}) > 1 \
            or len({float(g["momentum"]) for g in optimizer.param_groups}) > 1:
        return "param groups with different lr or momentum (fit sets one lr for all groups)"
    if not loader.drop_last and len(loader.x) % loader.batch_size:
        return (f"the last batch of each epoch is smaller ({len(loader.x) % loader.batch_size} "
                "images) and a graph needs one shape; build the Loader with drop_last=True")
    return None


def graph(step: Callable[..., torch.Tensor], model: nn.Module, optimizer: torch.optim.SGD,
          loader: "Loader", precision: str) -> StepFn:
    """``step`` (``train.train_step``) for ``model`` and ``optimizer`` on ``loader``'s batch shape,
    captured as one CUDA graph: each call copies its batch into the graph's input buffers and
    replays. Weight decay and Nesterov are fixed at capture; lr and momentum are read from the
    param groups, where they are 0-d device tensors until :func:`release`. Raises
    :class:`CaptureFailed` (the model, optimizer and random state as they were) if the capture
    fails or its replay differs from the uncaptured step. Call only when :func:`why_not` is None.
    """
    device = loader.device
    x, y = (t.clone() for t in _first_batch(loader))    # the graph's input buffers
    own = float(optimizer.param_groups[0]["lr"]), float(optimizer.param_groups[0]["momentum"])
    _tensor_hparams(optimizer, device)
    names, start = _state(model, optimizer)
    start = [t.clone() for t in start]
    rng = _rng_state(device)

    def body() -> torch.Tensor:
        return step(model, optimizer, x, y, precision, lambda: _sgd_update(optimizer))

    reference = []

    def warmup() -> None:
        # three uncaptured steps (allocations settle, cuDNN tunes); the first two, from the run's
        # starting state with a fixed nonzero lr and momentum, are what the replays must match
        schedules.set_hparams(optimizer, CHECK_LR, CHECK_MOMENTUM)
        for i in range(3):
            reference.append(body().float().clone())
            if i == 1:
                reference.append([t.clone() for t in _state(model, optimizer)[1]])
        _restore(model, optimizer, start)
        optimizer.zero_grad(set_to_none=True)

    try:
        loss, replay = _capture(device, warmup, body)
        _restore(model, optimizer, start)   # a capture runs nothing, but a stand-in may have
        problem = _check(replay, loss, names, start, reference, model, optimizer, rng, device)
    except Exception as e:   # capture can fail for many model-specific reasons; say which
        # a failed capture's error is the secondary "operation failed due to a previous error
        # during capture": name the first
        cause = e.__context__ if e.__context__ is not None and "capture" in str(e) else e
        problem = f"capture failed: {type(cause).__name__}: {cause}"
    except BaseException:    # e.g. KeyboardInterrupt: leave everything as it was, then stop
        _undo(model, optimizer, start, rng, device, own)
        raise
    if problem is not None:
        _undo(model, optimizer, start, rng, device, own)
        raise CaptureFailed(problem)
    _set_rng_state(device, rng)
    schedules.set_hparams(optimizer, *own)    # the check's lr and momentum out again

    def replayed(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        x.copy_(xb)
        y.copy_(yb)
        replay()
        return loss
    return replayed


def _check(replay, loss, names, start, reference, model, optimizer, rng, device) -> str | None:
    """Replay two steps from the starting state and random numbers, and compare each state
    tensor's *change* — weights, BatchNorm statistics, momentum buffers — with the uncaptured
    steps' change, against that tensor's own scale (integer buffers such as BatchNorm's
    ``num_batches_tracked`` exactly), and the losses; put the starting state back. None if they
    agree, else what differed. One host read, once per run."""
    _set_rng_state(device, rng)      # so that dropout draws the masks the warm-up drew
    schedules.set_hparams(optimizer, CHECK_LR, CHECK_MOMENTUM)
    losses = []
    for _ in range(2):
        replay()
        losses.append(loss.float().clone())
    after = _state(model, optimizer)[1]
    ref_after = reference[2]
    rows = []          # per tensor: (largest difference of changes, allowed, uncaptured change)
    zero = torch.zeros((), dtype=torch.float64, device=loss.device)
    for s, e, g in zip(start, ref_after, after):
        if not s.is_floating_point():     # counters: exactly
            rows.append(torch.stack([(e != g).sum().double(), zero, zero]))
            continue
        d_e, d_g = (e - s).double(), (g - s).double()
        scale = d_e.abs().max()
        rows.append(torch.stack([(d_g - d_e).abs().max(),
                                 1e-2 * scale + 1e-6 * s.double().abs().max(), scale]))
    table = torch.stack(rows).tolist()
    le, lg = [float(t) for t in reference[:2]], [float(t) for t in losses]
    _restore(model, optimizer, start)
    bad = [(n, err, ok) for n, (err, ok, _) in zip(names, table) if not err <= ok]
    ok_loss = all(math.isfinite(a) and abs(a - b) <= 1e-2 * max(1.0, abs(a))
                  for a, b in zip(le, lg))
    if ok_loss and not bad and any(scale > 0 for *_, scale in table):
        return None
    where = ""
    if bad:
        name, err, ok = max(bad, key=lambda r: r[1] / max(r[2], 1e-300))
        where = f"; {len(bad)} state tensors differ, e.g. {name} by {err:.3g} (allowed {ok:.3g})"
    return f"the captured step differs from the uncaptured one (losses {le} vs {lg}{where})"


def release(optimizer: torch.optim.Optimizer, lr: float = math.nan,
            momentum: float = math.nan) -> None:
    """Put Python floats back where :func:`graph` kept lr and momentum as device tensors, so the
    optimizer is an ordinary one again (for an eager run, ``state_dict``, a callback): ``lr`` and
    ``momentum`` if given (the exact values last set; the tensors hold them in float32), else the
    tensors' values."""
    for g in optimizer.param_groups:
        for key, value in (("lr", lr), ("momentum", momentum)):
            if isinstance(g.get(key), torch.Tensor):
                g[key] = value if math.isfinite(value) else float(g[key])


def _tensor_hparams(optimizer: torch.optim.SGD, device: torch.device) -> None:
    """lr and momentum as 0-d device tensors shared by all groups (``why_not`` saw one value of
    each), filled by ``schedules.set_hparams``; zero momentum buffers where torch has none yet."""
    g0 = optimizer.param_groups[0]
    lr = torch.tensor(float(g0["lr"]), device=device)
    momentum = torch.tensor(float(g0["momentum"]), device=device)
    for g in optimizer.param_groups:
        g["lr"], g["momentum"] = lr, momentum
        for p in g["params"]:
            st = optimizer.state[p]
            if st.get("momentum_buffer") is None:
                st["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)


def _state(model: nn.Module, optimizer: torch.optim.Optimizer
           ) -> tuple[list[str], list[torch.Tensor]]:
    """Everything a step writes, with names: weights, buffers (BatchNorm statistics and
    counters), momentum buffers."""
    names, ts = [], []
    for n, p in model.named_parameters():
        names.append(n)
        ts.append(p.data)
    for n, b in model.named_buffers():
        names.append(n)
        ts.append(b)
    pname = {p: n for n, p in model.named_parameters()}
    for g in optimizer.param_groups:
        for p in g["params"]:
            names.append(f"momentum buffer of {pname.get(p, '?')}")
            ts.append(optimizer.state[p]["momentum_buffer"])
    return names, ts


@torch.no_grad()
def _restore(model: nn.Module, optimizer: torch.optim.Optimizer, saved: list[torch.Tensor]) -> None:
    # in place: the graph holds these tensors' addresses
    for t, s in zip(_state(model, optimizer)[1], saved):
        t.copy_(s)


def _undo(model, optimizer, start, rng, device, own: tuple[float, float]) -> None:
    """After a failed capture: the model, optimizer (``own``: its lr and momentum) and random
    state as they were."""
    _restore(model, optimizer, start)
    optimizer.zero_grad(set_to_none=True)
    release(optimizer, *own)
    _set_rng_state(device, rng)


def _rng_state(device: torch.device) -> torch.Tensor:
    # dropout draws from the device's generator: the warm-up and the check use the same numbers
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def _set_rng_state(device: torch.device, state: torch.Tensor) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


def _first_batch(loader: "Loader") -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of the run's shape without moving the loader on (its epoch counter is restored and
    the random generators it uses are local to each epoch)."""
    epoch = loader.epoch
    xb, yb = next(iter(loader))
    loader.epoch = epoch
    return xb, yb
