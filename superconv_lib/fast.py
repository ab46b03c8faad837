"""How ``fit`` runs one training step fast: the step as one CUDA graph, ``torch.compile``, and the
choice between bf16 and TF32.

Why this matters for super-convergence: the course's small models do very little arithmetic per
step. A LeNet step on MNIST at batch 64 is a few microseconds of GPU work but ~100 kernel launches
issued one by one from Python, so an eager loop runs at the speed of Python, not of the GPU (the
seed's 12-epoch MNIST run: ≈ 20 s eager, almost all of it launch overhead). A CUDA graph records
the launches of one whole step once and replays them with a single call.

A graph replays *fixed* kernels on *fixed* memory, so everything a step reads must live in tensors
that stay put: the batch is copied into a static input buffer, and the learning rate and momentum —
which the schedule changes every iteration — are 0-d device tensors written before each replay
(a host-to-device fill, no sync). ``torch.optim.SGD`` keeps lr and momentum as Python floats baked
into its kernels' arguments, so the graphed step uses :func:`sgd_update`, the same update written
with ``torch._foreach_*`` ops on those tensors. Run *without* capture (``fast="foreach"``) it is
tested equal to ``torch.optim.SGD`` on the CPU; captured (``fast="graph"``) it is the same code.

``fit(fast=...)``:

=============  ====================================================================================
``"auto"``     ``"graph"`` on CUDA when the run allows it (plain SGD, every batch the same shape),
               else ``"eager"``. A graph that fails to capture, or whose first step differs from
               the uncaptured step, falls back to ``"eager"``; ``History.info`` says why.
``"eager"``    ``torch.optim`` as written: the reference every other path is checked against.
``"foreach"``  the graph's step run without capture (lr/momentum as device tensors).
``"graph"``    the whole step (forward, loss, backward, SGD update) as one CUDA graph.
``"compile"``  the model's forward compiled by ``torch.compile``; eager optimizer step. It costs
               tens of seconds of compilation per model and shape, so ``"auto"`` never picks it.
=============  ====================================================================================

``fit(precision=...)``: ``"bf16"`` (autocast to bfloat16), ``"tf32"`` (fp32 tensors, TF32 tensor
core maths), ``"fp32"`` (IEEE fp32 throughout) or ``"auto"``: on CUDA a short timed probe of bf16
against TF32 on a copy of the model (bf16 is not always faster: ResNet-56 at batch 512 ran faster
in fp32 on an H100), cached per model and batch shape; fp32 on the CPU and MPS.
"""
from __future__ import annotations

import contextlib
import copy
import math
import time
import warnings
from typing import TYPE_CHECKING, Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from .data import Loader

__all__ = ["PATHS", "PRECISIONS", "StepFn", "autocast", "precision_flags", "on_device", "eager_step",
           "sgd_update", "graph_ineligible", "build_step", "choose_precision", "pick_precision",
           "probe_precision", "forget_probes", "check_precision", "CudaCapture"]

PATHS = ("auto", "eager", "foreach", "graph", "compile")
PRECISIONS = ("auto", "bf16", "tf32", "fp32")

StepFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""A training step: ``step(xb, yb)`` trains on one batch and returns the loss as a 0-d device
tensor (no host sync)."""


# ---------------------------------------------------------------------------------------------
# Precision
# ---------------------------------------------------------------------------------------------

def autocast(device: torch.device, precision: str, *,
             cache: bool = True) -> contextlib.AbstractContextManager:
    """The autocast context of a precision: bf16 autocast for ``"bf16"`` (CUDA and CPU), nothing
    otherwise. ``cache=False`` inside a CUDA graph capture (autocast's weight cache would hold
    tensors from outside the graph's memory pool)."""
    if precision == "bf16" and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=cache)
    return contextlib.nullcontext()


@contextlib.contextmanager
def precision_flags(device: torch.device, precision: str) -> Iterator[None]:
    """Set CUDA's fp32 maths for the run and put the old settings back afterwards: TF32 for
    ``"tf32"``, IEEE for ``"fp32"``; ``"bf16"`` leaves PyTorch's defaults (TF32 convolutions)."""
    if device.type != "cuda" or precision not in ("tf32", "fp32"):
        yield
        return
    # the long-standing switches (torch >= 2.2); torch 2.9+ keeps its newer fp32_precision
    # settings consistent with them, whereas mixing the two APIs raises
    tf32 = precision == "tf32"
    old = (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32)
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    torch.backends.cudnn.allow_tf32 = tf32
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(old[0])
        torch.backends.cudnn.allow_tf32 = old[1]


def on_device(device: torch.device) -> contextlib.AbstractContextManager:
    """Make ``device`` the current CUDA device for a run (streams, graphs and the probe then
    belong to it, also for ``cuda:1``); nothing on the CPU and MPS."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


def check_precision(precision: str, device: torch.device) -> None:
    """Raise a ``ValueError`` for a precision this device cannot apply: TF32 is a CUDA
    tensor-core mode, and bf16 autocast is used on CUDA and the CPU."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
    if precision == "tf32" and device.type != "cuda":
        raise ValueError(f"precision='tf32' is a CUDA tensor-core mode; on {device.type} use "
                         "'fp32' (or 'auto').")
    if precision == "bf16" and device.type not in ("cuda", "cpu"):
        raise ValueError(f"precision='bf16' autocasts on CUDA and the CPU; on {device.type} use "
                         "'fp32' (or 'auto').")


_PROBED: dict[tuple, tuple[str, dict]] = {}
"""The probe's results in this process: (model class, parameter count, batch shape, GPU) ->
(precision, seconds per step). A cache, not a setting: :func:`forget_probes` empties it."""


def forget_probes() -> None:
    """Empty the precision probe's cache, so that the next ``fit(precision="auto")`` probes again
    (benchmarks do this so that every run pays for its own probe)."""
    _PROBED.clear()


def probe_precision(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor, *, steps: int = 10,
                    warmup: int = 3) -> dict[str, float]:
    """Seconds per eager training step of a *copy* of ``model`` in bf16 and in TF32 on one batch
    (the model itself is not touched). CUDA only."""
    if xb.device.type != "cuda":
        raise ValueError("probe_precision times CUDA kernels; on the CPU and MPS use fp32.")
    if steps < 1 or warmup < 0:
        raise ValueError(f"probe_precision needs steps >= 1 and warmup >= 0, got {steps}, {warmup}.")
    out = {}
    for prec in ("bf16", "tf32"):
        m = copy.deepcopy(model).train()
        opt = torch.optim.SGD(m.parameters(), lr=0.0, momentum=0.9)
        with precision_flags(xb.device, prec):
            for i in range(warmup + steps):
                if i == warmup:
                    torch.cuda.synchronize(xb.device)
                    t = time.perf_counter()
                eager_step(m, opt, xb, yb, prec)
            torch.cuda.synchronize(xb.device)
        out[prec] = (time.perf_counter() - t) / steps
        del m, opt
    return out


def pick_precision(seconds: dict[str, float]) -> str:
    """The probe's rule: TF32 only when it is at least 10 % faster than bf16. For small,
    launch-bound models the two times are equal up to noise, and a coin flip between precisions
    would make runs differ from one session to the next."""
    return "tf32" if seconds["tf32"] < 0.9 * seconds["bf16"] else "bf16"


def choose_precision(precision: str, model: nn.Module, loader: "Loader") -> tuple[str, str]:
    """``(precision, why)`` for a run of ``model`` on ``loader``'s batches: ``precision`` itself
    unless it is ``"auto"``; then fp32 off CUDA, and on CUDA the faster of bf16 and TF32 by
    :func:`probe_precision` on one batch (cached per model class, parameter count, batch shape and
    GPU)."""
    dev = loader.device
    check_precision(precision, dev)
    if precision != "auto":
        return precision, "asked for"
    if dev.type != "cuda":
        return "fp32", f"auto: fp32 on {dev.type} (bf16 autocast is slower on most CPUs)"
    xb, yb = _first_batch(loader)
    key = (type(model).__name__, sum(p.numel() for p in model.parameters()), tuple(xb.shape),
           torch.cuda.get_device_name(dev))
    if key not in _PROBED:
        t = probe_precision(model, xb, yb)
        _PROBED[key] = pick_precision(t), t
    best, t = _PROBED[key]
    return best, "auto: probe " + ", ".join(f"{k} {v * 1e3:.2f} ms/step" for k, v in t.items())


# ---------------------------------------------------------------------------------------------
# The steps
# ---------------------------------------------------------------------------------------------

def eager_step(model: nn.Module, optimizer: torch.optim.Optimizer, xb: torch.Tensor,
               yb: torch.Tensor, precision: str = "bf16") -> torch.Tensor:
    """One iteration as PyTorch tutorials write it: forward, cross-entropy, backward,
    ``optimizer.step()``. Returns the loss as a 0-d device tensor (no host sync)."""
    with autocast(xb.device, precision):
        loss = F.cross_entropy(model(xb), yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


@torch.no_grad()
def sgd_update(params: list[torch.Tensor], grads: list[torch.Tensor], bufs: list[torch.Tensor],
               lr: torch.Tensor, momentum: torch.Tensor, weight_decay: float,
               nesterov: bool) -> None:
    """SGD with heavy-ball momentum and L2 weight decay, as ``torch.optim.SGD`` (dampening 0):
    ``g ← grad + wd·θ;  v ← μ·v + g;  θ ← θ − ε·v`` (Nesterov: ``θ ← θ − ε·(g + μ·v)``), with the
    learning rate ε and momentum μ as 0-d tensors so that a CUDA graph can replay it while a
    schedule changes them. ``bufs`` start at zero (``μ·0 + g = g`` is torch's first step exactly)."""
    if weight_decay != 0:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    torch._foreach_mul_(bufs, momentum)
    torch._foreach_add_(bufs, grads)
    if nesterov:
        step = torch._foreach_mul(bufs, momentum)
        torch._foreach_add_(step, grads)
    else:
        step = bufs
    torch._foreach_add_(params, torch._foreach_mul(step, -lr))


class _TensorSGDStep:
    """The graph-able step: forward, loss, backward and :func:`sgd_update` over ``optimizer``'s
    parameters, reading lr/momentum from ``optimizer.param_groups`` into device tensors. The
    momentum buffers are ``optimizer.state[p]["momentum_buffer"]``, so the optimizer stays valid
    for an eager run afterwards (and for ``state_dict``)."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.SGD, device: torch.device,
                 precision: str) -> None:
        self.model, self.opt, self.device, self.precision = model, optimizer, device, precision
        self.lr = torch.zeros((), device=device)
        self.mom = torch.zeros((), device=device)
        self.capturing = False
        for g in optimizer.param_groups:
            for p in g["params"]:
                st = optimizer.state[p]
                if st.get("momentum_buffer") is None:
                    st["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)

    def set_hparams(self, lr: float | None = None, momentum: float | None = None) -> None:
        # fit writes the schedule's values into param_groups (all groups alike); a fill_ from a
        # Python float is queued like any kernel: no sync
        g = self.opt.param_groups[0]
        self.lr.fill_(g["lr"] if lr is None else lr)
        self.mom.fill_(g["momentum"] if momentum is None else momentum)

    def body(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        with autocast(self.device, self.precision, cache=not self.capturing):
            loss = F.cross_entropy(self.model(xb), yb)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        for g in self.opt.param_groups:
            ps = [p for p in g["params"] if p.grad is not None]   # torch.optim.SGD skips these too
            if ps:
                sgd_update(ps, [p.grad for p in ps],
                           [self.opt.state[p]["momentum_buffer"] for p in ps],
                           self.lr, self.mom, g["weight_decay"], g["nesterov"])
        return loss.detach()

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        self.set_hparams()
        return self.body(xb, yb)


class CudaCapture:
    """Everything CUDA-specific about capturing a step, in one place: the warm-up side stream,
    the capture itself, the RNG state, and recovering the stream after a failed capture. (Tests
    on a machine without a GPU put a stand-in with the same methods in its place.)"""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    @contextlib.contextmanager
    def side_stream(self) -> Iterator[None]:
        """Run the block on a fresh stream of the device, joined back to the current one after."""
        side = torch.cuda.Stream(device=self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        try:
            with torch.cuda.stream(side):
                yield
        finally:
            torch.cuda.current_stream(self.device).wait_stream(side)

    def capture(self, fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, Callable[[], None]]:
        """Record ``fn`` as a graph: its output (rewritten by every replay) and the replay."""
        graph = torch.cuda.CUDAGraph()
        # capture on a stream of the run's device (the default capture stream belongs to the
        # *current* device, which need not be this one)
        with torch.cuda.graph(graph, stream=torch.cuda.Stream(device=self.device)):
            out = fn()
        self.graph = graph            # keeps the graph (and its memory pool) alive
        return out, graph.replay

    def rng_state(self) -> torch.Tensor:
        """The device's random-number state (dropout would draw from it during the warm-up)."""
        return torch.cuda.get_rng_state(self.device)

    def set_rng_state(self, state: torch.Tensor) -> None:
        """Put back a state from :meth:`rng_state`."""
        torch.cuda.set_rng_state(state, self.device)

    def recover(self, stream: torch.cuda.Stream) -> None:
        """After a failed capture: make ``stream`` current again and wait for queued work."""
        torch.cuda.set_stream(stream)
        torch.cuda.synchronize(self.device)

    def current_stream(self) -> torch.cuda.Stream:
        """The stream work is queued on now (made current again by :meth:`recover`)."""
        return torch.cuda.current_stream(self.device)


class _GraphStep:
    """:class:`_TensorSGDStep` captured as one CUDA graph; each call copies the batch into the
    graph's input buffers, writes lr/momentum and replays. Weight decay and Nesterov are fixed
    when the graph is captured."""

    CHECK_LR, CHECK_MOMENTUM = 1e-2, 0.9    # the self-check's steps (state is put back after)

    def __init__(self, inner: _TensorSGDStep, xb: torch.Tensor, yb: torch.Tensor,
                 backend: CudaCapture, saved: list[torch.Tensor]) -> None:
        """``saved``: :func:`_snapshot` of the starting state, put back after the warm-up."""
        self.inner = inner
        self.x = torch.empty_like(xb)
        self.y = torch.empty_like(yb)
        self.x.copy_(xb)
        self.y.copy_(yb)
        self.saved = saved
        # Warm-up on a side stream (cuDNN picks its algorithms, the allocator settles), as
        # PyTorch's whole-network capture recipe does. Its first two steps, uncaptured from the
        # run's starting state with a fixed nonzero lr and momentum, are the reference the
        # replayed steps are checked against. These steps train, so the state is put back.
        inner.set_hparams(self.CHECK_LR, self.CHECK_MOMENTUM)
        with backend.side_stream():
            losses = []
            for i in range(3):
                losses.append(inner.body(self.x, self.y).float().clone())
                if i == 1:
                    self.reference = (torch.stack(losses), _flat_state(inner))
        _restore(inner, self.saved)
        inner.opt.zero_grad(set_to_none=True)
        inner.capturing = True
        try:
            self.loss, self.replay = backend.capture(lambda: inner.body(self.x, self.y))
        finally:
            inner.capturing = False
        _restore(inner, self.saved)   # a capture runs nothing, but a stand-in backend may have

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        self.x.copy_(xb)
        self.y.copy_(yb)
        self.inner.set_hparams()
        self.replay()
        return self.loss

    def check(self) -> str | None:
        """Replay two steps from the starting state and compare what they changed — weights,
        momentum buffers, BatchNorm statistics — and their losses with the uncaptured reference;
        put the starting state back. None if they agree, else what differed (one host read, once
        per run). Comparing the *change* (not the weights) makes a small or missing update show."""
        start = _flat_state(self.inner)
        losses = []
        for _ in range(2):
            self.inner.set_hparams(self.CHECK_LR, self.CHECK_MOMENTUM)
            self.replay()
            losses.append(self.loss.float().clone())
        loss_e, after_e = self.reference
        d_e, d_g = after_e - start, _flat_state(self.inner) - start
        scale = d_e.abs().max().item()
        err = (d_g - d_e).abs().max().item()
        le, lg = loss_e.tolist(), torch.stack(losses).tolist()
        _restore(self.inner, self.saved)
        del self.reference, self.saved
        ok_loss = all(math.isfinite(a) and abs(a - b) <= 1e-2 * max(1.0, abs(a))
                      for a, b in zip(le, lg))
        if not (ok_loss and scale > 0 and err <= 1e-2 * scale):
            return (f"the captured step differs from the uncaptured one (losses {le} vs {lg}; "
                    f"largest change {scale:.3g}, largest difference of changes {err:.3g})")
        return None


def _state_tensors(inner: _TensorSGDStep) -> list[torch.Tensor]:
    """Everything a step writes: weights, buffers (BatchNorm statistics and counters), momentum."""
    ts = [p.data for p in inner.model.parameters()] + list(inner.model.buffers())
    ts += [inner.opt.state[p]["momentum_buffer"] for g in inner.opt.param_groups for p in g["params"]]
    return ts


def _flat_state(inner: _TensorSGDStep) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([t.detach().double().reshape(-1) for t in _state_tensors(inner)])


def _snapshot(inner: _TensorSGDStep) -> list[torch.Tensor]:
    return [t.detach().clone() for t in _state_tensors(inner)]


@torch.no_grad()
def _restore(inner: _TensorSGDStep, saved: list[torch.Tensor]) -> None:
    # in place: the graph holds these tensors' addresses
    for t, s in zip(_state_tensors(inner), saved):
        t.copy_(s)


def graph_ineligible(optimizer: torch.optim.Optimizer, loader: "Loader",
                     device: torch.device) -> str | None:
    """Why this run cannot use the tensor-SGD step (``"foreach"``/``"graph"``), or None if it can."""
    if type(optimizer) is not torch.optim.SGD:
        return (f"the optimizer is {type(optimizer).__name__}; the graphed step implements "
                "torch.optim.SGD only")
    for g in optimizer.param_groups:
        if g.get("dampening", 0) != 0 or g.get("maximize") or g.get("differentiable"):
            return "SGD with dampening, maximize or differentiable is not implemented by the graphed step"
        if any(p.device != device for p in g["params"]):
            return "some parameters are not on the loader's device"
    moms = {g["momentum"] for g in optimizer.param_groups}
    if len({g["lr"] for g in optimizer.param_groups}) > 1 or len(moms) > 1:
        return "param groups with different lr or momentum (fit sets one lr for all groups)"
    if not loader.drop_last and len(loader.x) % loader.batch_size:
        return (f"the last batch of each epoch is smaller ({len(loader.x) % loader.batch_size} "
                "images) and a graph needs one shape; build the Loader with drop_last=True")
    return None


def build_step(fast: str, model: nn.Module, optimizer: torch.optim.Optimizer, loader: "Loader",
               precision: str, backend: CudaCapture | None = None) -> tuple[StepFn, dict]:
    """The step ``fit`` will call, and ``info`` for ``History.info``: ``fast`` (the path taken),
    ``fast_reason`` (why) and ``precision``. ``precision`` is already chosen (not ``"auto"``).
    ``backend`` replaces :class:`CudaCapture` (tests without a GPU)."""
    if fast not in PATHS:
        raise ValueError(f"fast must be one of {PATHS}, got {fast!r}.")
    if precision == "auto":
        raise ValueError("build_step needs a chosen precision; call choose_precision first.")
    dev = loader.device
    check_precision(precision, dev)
    info = {"precision": precision}
    why_not = graph_ineligible(optimizer, loader, dev)

    def eager(reason: str) -> tuple[StepFn, dict]:
        info.update(fast="eager", fast_reason=reason)
        return (lambda xb, yb: eager_step(model, optimizer, xb, yb, precision)), info

    if fast == "eager":
        return eager("asked for")
    if fast == "compile":
        compiled = torch.compile(model)
        info.update(fast="compile", fast_reason="asked for")
        return (lambda xb, yb: eager_step(compiled, optimizer, xb, yb, precision)), info
    if fast == "auto" and dev.type != "cuda" and backend is None:
        return eager(f"auto: eager on {dev.type} (CUDA graphs need a CUDA GPU)")
    if why_not is not None:
        if fast == "auto":
            return eager("auto: " + why_not)
        raise ValueError(f"fast={fast!r} is not possible here: {why_not}. Use fast='eager' or 'auto'.")
    inner = _TensorSGDStep(model, optimizer, dev, precision)
    if fast == "foreach":
        info.update(fast="foreach", fast_reason="asked for")
        return inner, info
    if backend is None and dev.type != "cuda":
        raise ValueError(f"fast='graph' needs a CUDA GPU; this run is on {dev.type}. "
                         "Use fast='auto' (it picks eager here) or fast='foreach'.")
    backend = backend or CudaCapture(dev)
    xb, yb = _first_batch(loader)
    stream = backend.current_stream()
    rng = backend.rng_state()
    start = None
    try:
        start = _snapshot(inner)
        graph = _GraphStep(inner, xb, yb, backend, start)
        problem = graph.check()
    except Exception as e:   # capture can fail for many model-specific reasons; say which
        # a failed capture can leave its capture stream current, and its error is then the
        # secondary "operation failed due to a previous error during capture": name the first
        backend.recover(stream)
        cause = e.__context__ if e.__context__ is not None and "capture" in str(e) else e
        problem = f"capture failed: {type(cause).__name__}: {cause}"
    except BaseException:    # e.g. KeyboardInterrupt: leave the model as it was, then stop
        backend.recover(stream)
        if start is not None:
            _restore(inner, start)
        raise
    backend.set_rng_state(rng)
    if problem is not None:
        if start is not None:
            _restore(inner, start)
        optimizer.zero_grad(set_to_none=True)
        if fast == "graph":
            raise RuntimeError(f"fast='graph': {problem}. Use fast='auto' or 'eager'.")
        warnings.warn(f"fit(fast='auto'): {problem}; training eagerly instead.", stacklevel=3)
        return eager("auto: " + problem)
    info.update(fast="graph", fast_reason="asked for" if fast == "graph" else
                "auto: CUDA, plain SGD, fixed batch shape; first step checked against eager")
    return graph, info


def _first_batch(loader: "Loader") -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of the run's shape without moving the loader on (its epoch counter is restored and
    the random generators it uses are local to each epoch)."""
    epoch = loader.epoch
    xb, yb = next(iter(loader))
    loader.epoch = epoch
    return xb, yb
