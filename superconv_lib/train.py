"""The one training step, and fit(): the loop that runs it. Every experiment in the course is this
loop plus a schedule and callbacks — the LR range test, the super-convergence indicator and the
Hessian-free estimate too — and :func:`runs` trains several schedules from the same seed on the
same batches.

Why it is fast: batches come from device tensors (``data.Loader``); the per-step loss is written
into a device buffer and read back in chunks (every ``read_every`` steps and at eval points), so the
step loop never waits for the GPU; bf16 autocast and channels_last on CUDA; and on a GPU the step
is replayed as one CUDA graph (:mod:`superconv_lib.fast`).
"""
from __future__ import annotations

import contextlib
import csv
import functools
import io
import math
import numbers
import threading
import time
import warnings
from typing import Callable, Iterator, NamedTuple, Protocol, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import _validate as V
from . import config, fast, plots, schedules
from .data import Loader

__all__ = ["fit", "evaluate", "train_step", "runs", "table", "make_optimizer", "progress_to",
           "History", "EvalPoint", "EvalOn", "Loop", "Callback", "TrainingDiverged", "OPTIMIZERS",
           "PRECISIONS", "STEP_PATHS"]

Schedule = Callable[[int], "float | tuple[float, float]"]
OPTIMIZERS = ("sgd", "nesterov", "adam", "adamw", "adagrad", "adadelta")
PRECISIONS = ("bf16", "fp32")
STEP_PATHS = ("auto", "graph", "eager")


class EvalPoint(NamedTuple):
    """One evaluation: after ``step`` optimizer steps (``epoch`` = step / steps per epoch)."""
    step: int
    epoch: float
    lr: float
    loss: float
    accuracy: float


class EvalOn:
    """A :func:`fit` callback that, at each of fit's evaluations, also evaluates the model on
    ``data`` (for example a fixed subset of the *training* images), kept as the evaluations of a
    second :class:`History` (``self.history``): the train/test gap is then
    ``cb.history.final_accuracy - h.final_accuracy``."""

    def __init__(self, data: "tuple[torch.Tensor, torch.Tensor]", label: str = "") -> None:
        self.data, self.label, self.history = data, label, None

    def on_train_begin(self, loop: "Loop") -> None:
        self.history = History(len(loop.loader), self.label)

    def on_eval(self, loop: "Loop", point: EvalPoint) -> None:
        loss, acc = evaluate(loop.model, self.data, normalize=loop.loader.normalize,
                             precision=loop.history.info.get("precision"))   # as fit's own eval
        self.history.evals.append(EvalPoint(point.step, point.epoch, point.lr, loss, acc))


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite. ``.history`` holds everything recorded so far."""

    def __init__(self, step: int, lr: float, history: "History") -> None:
        self.step, self.lr, self.history = step, lr, history
        super().__init__(
            f"training diverged: the loss is {history.loss[step]} at step {step} (lr={lr:.4g}). "
            "Lower the (maximum) learning rate or lengthen the warm-up; everything "
            "recorded up to here is in this exception's .history.")


class History:
    """What a run recorded: per-step ``lr``, ``momentum`` and train ``loss``, plus ``evals``
    (a list of :class:`EvalPoint`), ``wall_time`` in seconds and ``stop_reason`` (None if the run
    did all its steps)."""

    def __init__(self, steps_per_epoch: int, label: str = "") -> None:
        self.steps_per_epoch = steps_per_epoch
        self.label = label
        self.lr: list[float] = []
        self.momentum: list[float] = []
        self.loss: list[float] = []
        self.evals: list[EvalPoint] = []
        self.wall_time = 0.0
        self.stop_reason: str | None = None
        self.info: dict = {}

    def __repr__(self) -> str:
        acc = f", final accuracy {self.final_accuracy:.4f}" if self.evals else ""
        return (f"History({self.label!r}: {len(self.loss)} steps, {self.wall_time:.1f} s{acc}"
                f"{', stopped: ' + self.stop_reason if self.stop_reason else ''})")

    @property
    def steps(self) -> int:
        return len(self.loss)

    @property
    def final_accuracy(self) -> float:
        """Accuracy at the last evaluation (NaN if there was none)."""
        return self.evals[-1].accuracy if self.evals else float("nan")

    @property
    def best_accuracy(self) -> float:
        return max((e.accuracy for e in self.evals), default=float("nan"))

    def eval_array(self, field: str) -> np.ndarray:
        """One :class:`EvalPoint` field as an array, e.g. ``h.eval_array("accuracy")``."""
        return np.array([getattr(e, field) for e in self.evals], dtype=float)

    def to_csv(self, path: str | None = None) -> str:
        """Per-step rows ``step, epoch, lr, momentum, loss, eval_loss, eval_accuracy`` (eval columns
        filled on the steps where an evaluation ended). Writes ``path`` if given; returns the text."""
        evals = {e.step - 1: e for e in self.evals}
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["step", "epoch", "lr", "momentum", "loss", "eval_loss", "eval_accuracy"])
        for i, loss in enumerate(self.loss):
            e = evals.get(i)
            w.writerow([i, f"{(i + 1) / self.steps_per_epoch:.6g}", f"{self.lr[i]:.8g}",
                        f"{self.momentum[i]:.8g}", f"{loss:.8g}",
                        "" if e is None else f"{e.loss:.8g}", "" if e is None else f"{e.accuracy:.8g}"])
        text = buf.getvalue()
        if path is not None:
            with open(path, "w", newline="") as f:
                f.write(text)
        return text

    @classmethod
    def from_csv(cls, text: str, steps_per_epoch: int, label: str = "") -> "History":
        """The History that :meth:`to_csv` wrote (per-step lr, momentum, loss and the evaluations;
        numbers to 8 significant digits). ``wall_time``, ``stop_reason`` and ``info`` are not in
        the CSV: set them from wherever you kept them. Text that is not such a CSV raises a
        ``ValueError`` naming the line."""
        steps_per_epoch = V.integer(steps_per_epoch, "steps_per_epoch", "History.from_csv", 1)
        hist = cls(steps_per_epoch, label)
        reader = csv.DictReader(io.StringIO(text))
        missing = [k for k in ("step", "lr", "momentum", "loss", "eval_loss", "eval_accuracy")
                   if k not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"History.from_csv: not a History CSV, the header lacks {missing} "
                             f"(got {reader.fieldnames}).")
        for r in reader:
            try:
                if None in r or None in r.values():   # more or fewer fields than the header
                    n = sum(v is not None for k, v in r.items() if k is not None)
                    raise ValueError(f"it has {n + len(r.get(None) or ())} fields where the "
                                     f"header has {len(reader.fieldnames)}")
                i = int(r["step"])
                if i != len(hist.loss):
                    raise ValueError(f"step {i} where step {len(hist.loss)} was expected")
                lr, mom, loss = float(r["lr"]), float(r["momentum"]), float(r["loss"])
                ev = None
                if r["eval_accuracy"] not in ("", None):
                    ev = EvalPoint(i + 1, (i + 1) / steps_per_epoch, lr, float(r["eval_loss"]),
                                   float(r["eval_accuracy"]))
            except (TypeError, ValueError) as e:  # TypeError: a short row gives None
                raise ValueError(f"History.from_csv: line {reader.line_num} is not a History row "
                                 f"({e}).") from None
            hist.lr.append(lr)
            hist.momentum.append(mom)
            hist.loss.append(loss)
            if ev is not None:
                hist.evals.append(ev)
        return hist

    def plot(self, **kwargs):
        """Loss vs step and accuracy vs epoch (see :func:`superconv_lib.plots.history`)."""
        return plots.history(self, **kwargs)


class Loop:
    """The state a callback sees. Set ``loop.stop = "why"`` to end training after this step."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, loader: Loader,
                 steps: int, history: History) -> None:
        self.model, self.optimizer, self.loader = model, optimizer, loader
        self.steps, self.history = steps, history
        self.step = -1            # index of the step that just finished
        self.lr = float("nan")
        self.momentum = float("nan")
        self.stop: str | None = None


class Callback(Protocol):
    """Any object with some of these methods (all optional):

    ``on_train_begin(loop)``, ``on_step_end(loop)`` (after every optimizer step: must not sync with
    the GPU), ``on_losses(loop, first_step, losses)`` (a chunk of per-step losses read back, as a
    NumPy array), ``on_eval(loop, point)``, ``on_train_end(loop)``.
    """


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    # bf16 has fp32's exponent range, so unlike fp16 it needs no loss scaling; autocast runs the
    # convolutions and matmuls in bf16 and keeps the weights, the loss and the update in fp32.
    # cache_enabled=False: a CUDA graph must not keep autocast's cached weight casts (made outside
    # its memory pool), and each step enters autocast afresh anyway.
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False)
    if precision == "fp32":
        return contextlib.nullcontext()
    raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, xb: torch.Tensor,
               yb: torch.Tensor, precision: str | None = None,
               update: Callable[[], None] | None = None) -> torch.Tensor:
    """One iteration on one mini-batch: forward, cross-entropy loss, backward, update. Returns the
    loss as a 0-d device tensor (no host sync). ``precision``: ``"bf16"`` (autocast) or
    ``"fp32"``; None: bf16 on CUDA, fp32 elsewhere. ``update`` replaces ``optimizer.step()``: the
    CUDA-graph path passes the same SGD update written on device tensors
    (:mod:`superconv_lib.fast`), and captures this very function."""
    with _autocast(xb.device, precision or _default_precision(xb.device)):
        loss = F.cross_entropy(model(xb), yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if update is None:
        optimizer.step()
    else:
        update()
    return loss.detach()


def make_optimizer(model: nn.Module, name: str, lr: float, momentum: float,
                   weight_decay: float) -> torch.optim.Optimizer:
    """The optimizers Smith & Topin compare, over ``model``'s trainable parameters: ``"sgd"``
    (heavy-ball momentum, L2 weight decay as in Caffe), ``"nesterov"`` (SGD with Nesterov
    momentum), ``"adam"`` and ``"adamw"`` (``momentum`` is beta1), ``"adagrad"`` and
    ``"adadelta"`` (no momentum: ``momentum`` is not used)."""
    lr = V.non_negative(lr, "lr", "make_optimizer")
    momentum = V.momentum(momentum, "momentum", "make_optimizer")
    weight_decay = V.non_negative(weight_decay, "weight_decay", "make_optimizer")
    _check_optimizer_name(name, momentum)
    return _make_optimizer(model, name, lr, momentum, weight_decay)


def _check_optimizer_name(name, momentum: float) -> None:
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)} or a "
                         f"torch.optim.Optimizer, got {name!r}.")
    if name == "nesterov" and momentum == 0:
        raise ValueError("optimizer 'nesterov' needs a momentum > 0 (Nesterov's look-ahead is "
                         "along the momentum); e.g. momentum=0.9, or use 'sgd'.")


def _make_optimizer(model: nn.Module, name: str, lr: float, momentum: float,
                    weight_decay: float) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if name in ("sgd", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                               nesterov=name == "nesterov")
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, betas=(momentum, 0.999), weight_decay=weight_decay)
    cls = torch.optim.Adagrad if name == "adagrad" else torch.optim.Adadelta
    return cls(params, lr=lr, weight_decay=weight_decay)


def _default_precision(device: torch.device) -> str:
    return "bf16" if device.type == "cuda" else "fp32"


def _check_precision(precision, device: torch.device) -> str:
    precision = _default_precision(device) if precision is None else precision
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS} (or None: bf16 on CUDA, fp32 "
                         f"elsewhere), got {precision!r}.")
    if precision == "bf16" and device.type not in ("cuda", "cpu"):
        raise ValueError(f"precision='bf16' autocasts on CUDA and the CPU; on {device.type} use "
                         "'fp32'.")
    return precision


def evaluate(model: nn.Module, data: "tuple[torch.Tensor, torch.Tensor] | Loader", *,
             normalize: Callable[[torch.Tensor], torch.Tensor] | None = None,
             batch_size: int = 1000, precision: str | None = None) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on ``data``: an ``(images, labels)`` tuple
    from ``data.load`` (normalised with ``normalize``, e.g. the train loader's) or a ``Loader``.
    Sums stay on the device; one host read at the end. ``precision`` as in ``fit`` (default bf16
    on CUDA, fp32 elsewhere)."""
    dev = next(model.parameters()).device
    return _evaluate(model, data, normalize, batch_size, _check_precision(precision, dev))


@torch.no_grad()
def _evaluate(model, data, normalize, batch_size: int, precision: str) -> tuple[float, float]:
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    total = torch.zeros(2, dtype=torch.float64, device=dev)
    n = 0
    for xb, yb in _eval_batches(data, normalize, batch_size):
        with _autocast(xb.device, precision):
            out = model(xb)
        total[0] += F.cross_entropy(out.float(), yb, reduction="sum")
        total[1] += (out.argmax(1) == yb).sum()
        n += len(yb)
    model.train(was_training)
    if n == 0:
        raise ValueError("evaluate: the evaluation data is empty.")
    loss, correct = total.tolist()
    return loss / n, correct / n


def _eval_batches(data, normalize, batch_size) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    if isinstance(data, Loader):
        if data.augment:
            raise ValueError("the evaluation Loader augments its images; build it with augment=None.")
        yield from data
        return
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError("eval_data must be an (images, labels) tuple from data.load, or a Loader.")
    x, y = data
    if x.dtype == torch.uint8:
        if normalize is None:
            raise ValueError("uint8 eval images need a normalize function (fit passes the train "
                             "loader's); or pass a Loader.")
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        yield (normalize(xb) if xb.dtype == torch.uint8 else xb), y[i:i + batch_size]


def _cycle(loader: Loader) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    while True:
        yield from loader


def _as_schedule(value, name: str) -> Callable[[int], float] | None:
    """A number or a function of the step -> a function of the step (None stays None). A number
    is checked here, once: ``lr`` finite and >= 0, ``momentum`` in [0, 1)."""
    if value is None or callable(value):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        v = V.momentum(value, name) if name == "momentum" else V.non_negative(value, name)
        return lambda step: v
    raise ValueError(f"{name} must be a number or a function of the step, got "
                     f"{type(value).__name__} {value!r:.60}.")


def _call(cb, name: str, *args) -> None:
    fn = getattr(cb, name, None)
    if fn is not None:
        fn(*args)


def fit(model: nn.Module, train_loader: Loader, *, steps: int | None = None,
        epochs: float | None = None, lr: "float | Schedule", momentum: "float | Schedule | None" = 0.9,
        weight_decay: float = 5e-4, optimizer: "str | torch.optim.Optimizer" = "sgd",
        nesterov: bool = False, eval_data=None, eval_every: int | None = None,
        callbacks: Sequence[object] = (), progress: bool = True, read_every: int | None = None,
        label: str = "", step_path: str = "auto", precision: str | None = None) -> History:
    """Train ``model`` for ``steps`` iterations (or ``epochs`` × iterations per epoch), one
    :func:`train_step` per iteration.

    ``lr`` is a number or a function of the step (iteration index, from 0); a function returning
    ``(lr, momentum)`` — like :func:`schedules.one_cycle` — sets both, which is how 1cycle's
    *cyclical momentum* is applied. ``momentum`` may also be a function. With ``eval_data`` the model
    is evaluated every ``eval_every`` iterations (default: once per epoch) and at the end.
    ``optimizer`` is one of ``OPTIMIZERS`` (see :func:`make_optimizer`; ``nesterov=True`` is
    ``"nesterov"``) or an optimizer over the model's parameters (its own weight decay is kept).
    Adagrad and Adadelta have no momentum: a constant ``momentum`` is then not used (History
    records NaN) and a momentum schedule is an error.

    Losses are read back every ``read_every`` iterations (default: once per epoch); a NaN/inf loss
    then raises :class:`TrainingDiverged` naming the step and lr, unless a callback stopped the run.

    Speed, two knobs: ``precision`` is ``"bf16"`` (autocast) or ``"fp32"``, by default bf16 on
    CUDA and fp32 elsewhere; ``step_path="auto"`` replays the step as one CUDA graph when it can
    (CUDA, plain SGD, one batch shape; see :mod:`superconv_lib.fast`), else runs it eagerly;
    ``"graph"`` insists (an error if it cannot) and ``"eager"`` never graphs. Both paths train
    to the same numbers up to floating-point rounding. ``History.info`` records ``step_path``,
    ``step_path_reason``, ``precision`` and ``setup_s`` (the capture, not in ``wall_time``).

    Every argument is checked before training starts (a ``ValueError`` naming it: ``steps`` an
    int, ``epochs`` finite, ``lr`` finite and >= 0, ``momentum`` in [0, 1), ``weight_decay``
    finite and >= 0), and so is every value a schedule gives, before it is set on the optimizer:
    an lr that is not finite and >= 0, or a momentum outside [0, 1), stops the run with a
    ``ValueError`` naming the step.
    """
    # ---- every argument checked here, once; nothing below checks again
    if not isinstance(train_loader, Loader):
        raise ValueError("train_loader must be a superconv_lib.data.Loader (device-resident batches).")
    spe = len(train_loader)
    if spe < 1:
        raise ValueError("train_loader is empty: it has no batches (fewer images than batch_size "
                         "with drop_last=True).")
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps= or epochs=.")
    if epochs is not None:
        epochs = V.positive(epochs, "epochs", hint="; e.g. epochs=3, or give steps=")
        if not epochs * spe < 2**53:
            raise ValueError(f"epochs={epochs:g} is {epochs * spe:.3g} iterations of {spe} per "
                             "epoch, more than can be counted; give a realistic number.")
        steps = max(1, round(epochs * spe))
    steps = V.integer(steps, "steps", minimum=1, unit="iterations")
    if eval_every is not None:
        eval_every = V.integer(eval_every, "eval_every", minimum=1, unit="iterations")
    if read_every is not None:
        read_every = V.integer(read_every, "read_every", minimum=1, unit="iterations")
    weight_decay = V.non_negative(weight_decay, "weight_decay",
                                  hint="; typical values are 1e-4 to 5e-4, or 0 for none")
    if not isinstance(nesterov, (bool, np.bool_)):
        raise ValueError(f"nesterov must be True or False, got {nesterov!r:.60}.")
    if step_path not in STEP_PATHS:
        raise ValueError(f"step_path must be one of {STEP_PATHS}, got {step_path!r}.")
    dev = train_loader.device
    precision = _check_precision(precision, dev)
    lr_fn = _as_schedule(lr, "lr")
    if lr_fn is None:
        raise ValueError("lr is required: a number or a function of the step.")
    mom_fn = _as_schedule(momentum, "momentum")
    lr0, mom0 = _lr_mom(lr_fn, mom_fn, 0)
    opt = _optimizer(model, optimizer, nesterov, lr0, mom0, weight_decay, dev)
    if not schedules.has_momentum(opt):
        if isinstance(lr_fn(0), tuple) or callable(momentum):
            raise ValueError(f"fit: {type(opt).__name__} has no momentum, so a momentum schedule "
                             "cannot be applied; give lr alone (and momentum=None).")
        mom_fn = None          # a constant momentum (e.g. the default) is not used
    own_momentum = _current_momentum(opt)   # History's momentum when nothing sets one

    hist = History(spe, label)
    hist.info.update(steps=steps, weight_decay=weight_decay, batch_size=train_loader.batch_size,
                     optimizer=optimizer if isinstance(optimizer, str) else type(opt).__name__,
                     device=str(dev), precision=precision)
    loop = Loop(model, opt, train_loader, steps, hist)
    model.train()          # before a graph is captured: it records train-mode kernels
    with torch.cuda.device(dev) if dev.type == "cuda" else contextlib.nullcontext():
        setup = time.perf_counter()
        step, hist.info["step_path"], hist.info["step_path_reason"] = _choose_step(
            step_path, model, opt, train_loader, precision)
        hist.info["setup_s"] = time.perf_counter() - setup   # the capture: not in wall_time
        try:
            _run(loop, step, lr_fn, mom_fn, own_momentum, eval_data, eval_every or spe,
                 read_every or spe, callbacks, progress, label, precision)
        finally:
            # Python floats back where the graph step kept device tensors: the last ones set
            fast.release(opt, loop.lr, loop.momentum)
    # a callback that stops mid-run may leave lr/momentum rows past the losses read back
    del hist.lr[len(hist.loss):], hist.momentum[len(hist.loss):]
    for cb in callbacks:
        _call(cb, "on_train_end", loop)
    return hist


def _optimizer(model, optimizer, nesterov, lr0: float, mom0: float | None, weight_decay: float,
               dev: torch.device) -> torch.optim.Optimizer:
    """fit's optimizer: built by name, or the caller's, checked; on ``dev``, in train mode."""
    model.to(dev)
    if dev.type == "cuda":
        # NHWC is the layout cuDNN's tensor-core convolutions use; NCHW would be transposed
        # around every convolution
        model.to(memory_format=torch.channels_last)
    if isinstance(optimizer, str):
        name = "nesterov" if nesterov and optimizer == "sgd" else optimizer
        if nesterov and optimizer != "sgd":
            raise ValueError(f"nesterov=True is SGD's; with optimizer={optimizer!r} leave it "
                             "False (or use optimizer='nesterov').")
        mom = 0.0 if mom0 is None else mom0
        _check_optimizer_name(name, mom)
        return _make_optimizer(model, name, lr0, mom, weight_decay)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)} or a "
                         f"torch.optim.Optimizer, got {type(optimizer).__name__}.")
    for g in optimizer.param_groups:   # what fit does not overwrite is trained with as it is
        if mom0 is None and ("momentum" in g or "betas" in g):
            V.momentum(g["momentum"] if "momentum" in g else g["betas"][0],
                       "the optimizer's momentum (beta1)", "fit")
        if "weight_decay" in g:
            V.non_negative(g["weight_decay"], "the optimizer's weight_decay", "fit")
    return optimizer


def _choose_step(step_path: str, model: nn.Module, opt: torch.optim.Optimizer, loader: Loader,
                 precision: str) -> tuple[Callable, str, str]:
    """``(step, path, why)``: :func:`train_step` itself, or replayed as a CUDA graph."""
    eager = functools.partial(train_step, model, opt, precision=precision)
    if step_path == "eager":
        return eager, "eager", "asked for"
    why_not = fast.why_not(opt, loader)
    if why_not is not None:
        if step_path == "graph":
            raise ValueError(f"step_path='graph' is not possible here: {why_not}. Use "
                             "step_path='auto' or 'eager'.")
        return eager, "eager", "auto: " + why_not
    try:
        graph = fast.graph(train_step, model, opt, loader, precision)
    except fast.CaptureFailed as e:
        if step_path == "graph":
            raise RuntimeError(f"step_path='graph': {e}. Use step_path='auto' or 'eager'.") from None
        warnings.warn(f"fit: {e}; training eagerly instead.", stacklevel=3)
        return eager, "eager", f"auto: {e}"
    why = "asked for" if step_path == "graph" else \
        "auto: CUDA, plain SGD, one batch shape; the replayed step checked against the uncaptured one"
    return graph, "graph", why


def _run(loop: Loop, step, lr_fn, mom_fn, own_momentum: float, eval_data, eval_every: int,
         read_every: int, callbacks, progress: bool, label: str, precision: str) -> None:
    """The step loop of :func:`fit` (arguments already checked)."""
    model, opt, loader, steps, hist = (loop.model, loop.optimizer, loop.loader, loop.steps,
                                       loop.history)
    losses = torch.empty(steps, device=loader.device)
    read_upto = 0
    bar = _progress(steps, progress, label)
    for cb in callbacks:
        _call(cb, "on_train_begin", loop)
    start = time.perf_counter()
    batches = _cycle(loader)
    try:
        for i in range(steps):
            lr_i, mom_i = _lr_mom(lr_fn, mom_fn, i)   # checked: nothing bad reaches the optimizer
            schedules.write_hparams(opt, lr_i, mom_i)   # checked by _lr_mom just above
            hist.lr.append(lr_i)
            hist.momentum.append(own_momentum if mom_i is None else mom_i)
            loop.step, loop.lr, loop.momentum = i, lr_i, hist.momentum[-1]
            xb, yb = next(batches)
            losses[i] = step(xb, yb)                  # forward, loss, backward, update
            for cb in callbacks:
                _call(cb, "on_step_end", loop)
            last = i == steps - 1 or loop.stop is not None
            do_eval = eval_data is not None and ((i + 1) % eval_every == 0 or last)
            if do_eval or last or (i + 1) % read_every == 0:
                # the one host sync of the loop: losses come back in chunks, not every step
                read_upto = _read_losses(loop, losses, read_upto, i + 1, callbacks, bar)
            if do_eval and loop.stop is None:
                el, ea = _evaluate(model, eval_data, loader.normalize, 1000, precision)
                point = EvalPoint(i + 1, (i + 1) / len(loader), lr_i, el, ea)
                hist.evals.append(point)
                for cb in callbacks:
                    _call(cb, "on_eval", loop, point)
                if bar is not None:
                    bar.set_postfix(loss=f"{hist.loss[-1]:.4f}", acc=f"{ea:.4f}", refresh=False)
            if loop.stop is not None:
                hist.stop_reason = loop.stop
                break
    finally:
        if loader.device.type == "cuda":
            torch.cuda.synchronize(loader.device)
        hist.wall_time = time.perf_counter() - start
        if bar is not None:
            bar.close()


# The progress displays lent by :func:`progress_to`: (thread id, make_bar), innermost last.
_lent: list[tuple[int, Callable]] = []


@contextlib.contextmanager
def progress_to(make_bar: Callable[[int, str], object]) -> Iterator[None]:
    """While the block runs, every :func:`fit` *in this thread* reports to a bar of your own
    instead of its tqdm bar, also in quick mode (where fit shows none) and under
    ``progress=False``: fit calls ``make_bar(steps, label)`` once per run and drives what it
    returns through tqdm's interface, ``update(n)``, ``set_postfix(loss=..., refresh=False)`` and
    ``close()``. The widget panels show their runs this way; a test or a script can count steps::

        with train.progress_to(lambda steps, label: MyBar(steps, label)):
            indicator.indicator(...)        # every fit inside reports to MyBar

    Other threads keep their own bars (JupyterLab may run a widget's callback in one thread
    while a cell runs in another)."""
    if not callable(make_bar):
        raise TypeError(f"progress_to needs a callable make_bar(steps, label) returning a bar "
                        f"with update/set_postfix/close; got {type(make_bar).__name__}.")
    entry = (threading.get_ident(), make_bar)
    _lent.append(entry)
    try:
        yield
    finally:
        _lent.remove(entry)


def _progress(steps: int, progress: bool, label: str):
    """fit's progress bar (tqdm's interface; None for none): the one lent to this thread by
    :func:`progress_to`, else tqdm's unless ``progress`` is off or the mode is quick."""
    me = threading.get_ident()
    for owner, make_bar in reversed(_lent):
        if owner == me:
            return make_bar(steps, label)
    if not progress or config.quick():
        return None
    return tqdm(total=steps, desc=label or "fit", unit="it", leave=False)


def _read_losses(loop: Loop, losses: torch.Tensor, start: int, end: int, callbacks, bar) -> int:
    """Copy losses[start:end] to the host (the only sync of the step loop) and check them."""
    chunk = losses[start:end].cpu().numpy().astype(float)
    hist = loop.history
    hist.loss.extend(chunk.tolist())
    for cb in callbacks:
        _call(cb, "on_losses", loop, start, chunk)
    bad = np.flatnonzero(~np.isfinite(chunk))
    if len(bad) and loop.stop is None:
        step = start + int(bad[0])
        hist.stop_reason = f"non-finite loss at step {step}"
        del hist.lr[len(hist.loss):], hist.momentum[len(hist.loss):]
        raise TrainingDiverged(step, hist.lr[step], hist)
    if bar is not None:
        bar.update(end - start)
        bar.set_postfix(loss=f"{chunk[-1]:.4f}", refresh=False)
    return end


def _lr_mom(lr_fn, mom_fn, step: int) -> tuple[float, float | None]:
    """``(lr, momentum)`` for ``step``, checked: the lr finite and >= 0, the momentum in [0, 1)
    (None when nothing gives a momentum: the optimizer's own is kept)."""
    out = lr_fn(step)
    if isinstance(out, tuple):
        if len(out) != 2:
            raise ValueError(f"fit: the lr schedule must return an lr or an (lr, momentum) pair; "
                             f"at step {step} it returned {len(out)} values.")
        return V.step_lr(out[0], step, "fit"), V.step_momentum(out[1], step, "fit")
    lr_i = V.step_lr(out, step, "fit")
    if mom_fn is None:
        return lr_i, None
    return lr_i, V.step_momentum(mom_fn(step), step, "fit")


def _current_momentum(opt: torch.optim.Optimizer) -> float:
    g = opt.param_groups[0]
    if "momentum" in g:
        return float(g["momentum"])
    if "betas" in g:
        return float(g["betas"][0])
    return math.nan


def runs(model_fn: Callable[[], nn.Module], loader: Loader, lrs: dict, *, seed: int = 0,
         steps: "int | dict[str, int] | None" = None, **fit_kw) -> "dict[str, History]":
    """Train a fresh ``model_fn()`` once per entry of ``lrs`` (``{name: lr or schedule}``), every
    run from the same seed and the same mini-batches in the same order, so that the runs differ
    only in their schedule. ``steps`` is a number of iterations or a dict ``{name: steps}``;
    ``fit_kw`` go to :func:`fit`. A run that diverges is kept: its History (up to the
    divergence) with ``stop_reason`` set."""
    out = {}
    first_epoch = loader.epoch
    for name, lr in lrs.items():
        config.seed_everything(seed)
        loader.epoch = first_epoch
        n = steps[name] if isinstance(steps, dict) else steps
        try:
            out[name] = fit(model_fn(), loader, steps=n, lr=lr, label=name, **fit_kw)
        except TrainingDiverged as e:
            out[name] = e.history
    loader.epoch = first_epoch
    return out


def table(runs: "dict[str, History] | Sequence[History]") -> str:
    """A plain-text table of several runs: final and best accuracy, iterations, epochs, wall time;
    a run that stopped early (diverged, or stopped by a callback) says so after its row."""
    items = V.named_runs(runs)
    width = max(8, *(len(k) for k, _ in items))
    lines = [f"{'run':<{width}}  {'final acc':>9}  {'best acc':>8}  {'iters':>7}  {'epochs':>6}  {'time (s)':>8}"]
    for name, h in items:
        stopped = f"  stopped: {h.stop_reason}" if h.stop_reason else ""
        lines.append(f"{name:<{width}}  {h.final_accuracy:>9.2%}  {h.best_accuracy:>8.2%}  "
                     f"{h.steps:>7d}  {h.steps / h.steps_per_epoch:>6.1f}  {h.wall_time:>8.1f}"
                     f"{stopped}")
    return "\n".join(lines)
