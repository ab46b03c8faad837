"""fit(): the one training loop. Every experiment in the course is this loop plus a schedule and
callbacks — the LR range test, the super-convergence indicator and the Hessian-free estimate too.

Why it is fast: batches come from device tensors (``data.Loader``); the per-step loss is written
into a device buffer and read back in chunks (every ``read_every`` steps and at eval points), so the
step loop never waits for the GPU; channels_last on CUDA; and on a GPU each step is replayed as one
CUDA graph in bf16 or TF32, whichever a short probe finds faster (``superconv_lib.fast``).
"""
from __future__ import annotations

import csv
import io
import math
import numbers
import time
from typing import Callable, Iterable, Iterator, NamedTuple, Protocol, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import _validate as V
from . import config
from . import fast as _fast
from .data import Loader

__all__ = ["fit", "evaluate", "train_step", "History", "EvalPoint", "Loop", "Callback",
           "TrainingDiverged", "compare", "make_optimizer", "named_runs"]

Schedule = Callable[[int], "float | tuple[float, float]"]


class EvalPoint(NamedTuple):
    """One evaluation: after ``step`` optimizer steps (``epoch`` = step / steps per epoch)."""
    step: int
    epoch: float
    lr: float
    loss: float
    accuracy: float


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
        from . import plots
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


def make_optimizer(model: nn.Module, name: str, lr: float, momentum: float,
                   weight_decay: float, nesterov: bool = False) -> torch.optim.Optimizer:
    """SGD with (heavy-ball) momentum and L2 weight decay as in Caffe, or Adam/AdamW (momentum is
    then beta1)."""
    lr = V.non_negative(lr, "lr", "make_optimizer")
    momentum = V.momentum(momentum, "momentum", "make_optimizer")
    weight_decay = V.non_negative(weight_decay, "weight_decay", "make_optimizer")
    params = [p for p in model.parameters() if p.requires_grad]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                               nesterov=nesterov)
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, betas=(momentum, 0.999), weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'sgd', 'adam', 'adamw' or a torch.optim.Optimizer, got {name!r}.")


def _default_precision(device: torch.device) -> str:
    # bf16 on CUDA halves activation traffic with no loss scaling needed; the CPU stays fp32.
    return "bf16" if device.type == "cuda" else "fp32"


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, xb: torch.Tensor,
               yb: torch.Tensor, precision: str | None = None) -> torch.Tensor:
    """One SGD iteration, eagerly: forward, cross-entropy, backward, optimizer step. Returns the
    loss as a 0-d device tensor (no host sync). ``precision``: ``"bf16"``, ``"tf32"`` or
    ``"fp32"`` (see :mod:`superconv_lib.fast`; default bf16 on CUDA, fp32 elsewhere)."""
    precision = precision or _default_precision(xb.device)
    _check_chosen(precision, xb.device)
    with _fast.precision_flags(xb.device, precision):
        return _fast.eager_step(model, optimizer, xb, yb, precision)


def _check_chosen(precision: str, device: torch.device) -> None:
    if precision == "auto":
        raise ValueError("precision='auto' is chosen by fit (a timed probe); here give 'bf16', "
                         "'tf32' or 'fp32'.")
    _fast.check_precision(precision, device)


@torch.no_grad()
def evaluate(model: nn.Module, data: "tuple[torch.Tensor, torch.Tensor] | Loader", *,
             normalize: Callable[[torch.Tensor], torch.Tensor] | None = None,
             batch_size: int = 1000, precision: str | None = None) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on ``data``: an ``(images, labels)`` tuple
    from ``data.load`` (normalised with ``normalize``, e.g. the train loader's) or a ``Loader``.
    Sums stay on the device; one host read at the end. ``precision`` as in ``fit`` (default bf16
    on CUDA, fp32 elsewhere)."""
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    total = torch.zeros(2, dtype=torch.float64, device=dev)
    n = 0
    precision = precision or _default_precision(dev)
    _check_chosen(precision, dev)
    with _fast.precision_flags(dev, precision):
        for xb, yb in _eval_batches(data, normalize, batch_size):
            with _fast.autocast(xb.device, precision):
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
        label: str = "", fast: str | None = None, precision: str | None = None) -> History:
    """Train ``model`` for ``steps`` iterations (or ``epochs`` × iterations per epoch).

    ``lr`` is a number or a function of the step (iteration index, from 0); a function returning
    ``(lr, momentum)`` — like :func:`schedules.one_cycle` — sets both, which is how 1cycle's
    *cyclical momentum* is applied. ``momentum`` may also be a function. With ``eval_data`` the model
    is evaluated every ``eval_every`` iterations (default: once per epoch) and at the end.
    ``optimizer`` is ``"sgd"`` (Caffe-style momentum and L2 ``weight_decay``), ``"adam"``,
    ``"adamw"`` or an optimizer over the model's parameters (its own weight decay is kept).

    Losses are read back every ``read_every`` iterations (default: once per epoch); a NaN/inf loss
    then raises :class:`TrainingDiverged` naming the step and lr, unless a callback stopped the run.

    ``fast`` picks how a step runs (``"auto"``: one CUDA graph per step on a GPU, eager elsewhere)
    and ``precision`` its arithmetic (``"auto"``: bf16 or TF32 by a timed probe on a GPU, fp32
    elsewhere); see :mod:`superconv_lib.fast`. Left out, they come from ``SUPERCONV_FAST`` and
    ``SUPERCONV_PRECISION`` (default ``"auto"``; see :mod:`superconv_lib.config`). ``History.info`` records ``fast``, ``fast_reason``,
    ``precision``, ``precision_reason`` and ``setup_s`` (probe and capture, not in ``wall_time``).
    At one precision, every ``fast`` path trains to the same numbers up to floating-point
    rounding; bf16 and TF32 differ by more (pass ``precision=`` to pin it).

    Every argument is checked before training starts (a ``ValueError`` naming it: ``steps`` an
    int, ``epochs`` finite, ``lr`` finite and >= 0, ``momentum`` in [0, 1), ``weight_decay``
    finite and >= 0), and so is every value a schedule gives, before it is set on the optimizer:
    an lr that is not finite and >= 0, or a momentum outside [0, 1), stops the run with a
    ``ValueError`` naming the step.
    """
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
    fast = config.fast_path() if fast is None else fast
    precision = config.precision() if precision is None else precision
    if fast not in _fast.PATHS:
        raise ValueError(f"fast must be one of {_fast.PATHS}, got {fast!r}.")
    _fast.check_precision(precision, train_loader.device)
    lr_fn = _as_schedule(lr, "lr")
    if lr_fn is None:
        raise ValueError("lr is required: a number or a function of the step.")
    mom_fn = _as_schedule(momentum, "momentum")
    eval_every = eval_every or spe
    read_every = read_every or spe

    dev = train_loader.device
    model.to(dev)
    if dev.type == "cuda":
        model.to(memory_format=torch.channels_last)
    lr0, mom0 = _lr_mom(lr_fn, mom_fn, 0)
    if isinstance(optimizer, str):
        opt = make_optimizer(model, optimizer, lr0, 0.0 if math.isnan(mom0) else mom0,
                             weight_decay, nesterov)
    elif isinstance(optimizer, torch.optim.Optimizer):
        opt = optimizer
        for g in opt.param_groups:  # what fit does not overwrite is trained with as it is
            if math.isnan(mom0) and ("momentum" in g or "betas" in g):
                V.momentum(g["momentum"] if "momentum" in g else g["betas"][0],
                           "the optimizer's momentum (beta1)", "fit")
            if "weight_decay" in g:
                V.non_negative(g["weight_decay"], "the optimizer's weight_decay", "fit")
    else:
        raise ValueError(f"optimizer must be 'sgd', 'adam', 'adamw' or a torch.optim.Optimizer, "
                         f"got {type(optimizer).__name__}.")

    hist = History(spe, label)
    hist.info.update(steps=steps, weight_decay=weight_decay, batch_size=train_loader.batch_size,
                     optimizer=optimizer if isinstance(optimizer, str) else type(opt).__name__,
                     device=str(dev))
    model.train()          # before a graph is captured: it records train-mode kernels
    setup = time.perf_counter()
    loop = Loop(model, opt, train_loader, steps, hist)
    with _fast.on_device(dev):
        prec, prec_why = _fast.choose_precision(precision, model, train_loader)
        with _fast.precision_flags(dev, prec):
            step_fn, info = _fast.build_step(fast, model, opt, train_loader, prec)
            # the probe and the capture happen once per run, before the clock of wall_time starts
            hist.info.update(info, precision_reason=prec_why, setup_s=time.perf_counter() - setup)
            _run(loop, step_fn, lr_fn, mom_fn, eval_data, eval_every, read_every, callbacks,
                 progress, label, prec)
    # a callback that stops mid-run may leave lr/momentum rows past the losses read back
    del hist.lr[len(hist.loss):], hist.momentum[len(hist.loss):]
    for cb in callbacks:
        _call(cb, "on_train_end", loop)
    return hist


def _run(loop: Loop, step_fn, lr_fn, mom_fn, eval_data, eval_every: int, read_every: int,
         callbacks, progress: bool, label: str, precision: str) -> None:
    """The step loop of :func:`fit` (arguments already checked)."""
    model, opt, train_loader, steps, hist = (loop.model, loop.optimizer, loop.loader, loop.steps,
                                             loop.history)
    dev, spe = train_loader.device, len(train_loader)
    losses = torch.empty(steps, device=dev)
    read_upto = 0
    bar = _progress(steps, progress, label)
    for cb in callbacks:
        _call(cb, "on_train_begin", loop)
    start = time.perf_counter()
    batches = _cycle(train_loader)
    try:
        for i in range(steps):
            lr_i, mom_i = _lr_mom(lr_fn, mom_fn, i)
            _set_hparams(opt, lr_i, mom_i)
            hist.lr.append(lr_i)
            hist.momentum.append(mom_i if not math.isnan(mom_i) else _current_momentum(opt))
            loop.step, loop.lr, loop.momentum = i, lr_i, hist.momentum[-1]
            xb, yb = next(batches)
            losses[i] = step_fn(xb, yb)
            for cb in callbacks:
                _call(cb, "on_step_end", loop)
            last = i == steps - 1 or loop.stop is not None
            do_eval = eval_data is not None and ((i + 1) % eval_every == 0 or last)
            if do_eval or last or (i + 1) % read_every == 0:
                read_upto = _read_losses(loop, losses, read_upto, i + 1, callbacks, bar)
            if do_eval and loop.stop is None:
                el, ea = evaluate(model, eval_data, normalize=train_loader.normalize,
                                  precision=precision)
                point = EvalPoint(i + 1, (i + 1) / spe, lr_i, el, ea)
                hist.evals.append(point)
                for cb in callbacks:
                    _call(cb, "on_eval", loop, point)
                if bar is not None:
                    bar.set_postfix(loss=f"{hist.loss[-1]:.4f}", acc=f"{ea:.4f}", refresh=False)
            if loop.stop is not None:
                hist.stop_reason = loop.stop
                break
    finally:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        hist.wall_time = time.perf_counter() - start
        if bar is not None:
            bar.close()


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


def _lr_mom(lr_fn, mom_fn, step: int) -> tuple[float, float]:
    """``(lr, momentum)`` for ``step``, checked: the lr finite and >= 0, the momentum in [0, 1)
    (NaN only when nothing gives a momentum: the optimizer's own is kept)."""
    out = lr_fn(step)
    if isinstance(out, tuple):
        if len(out) != 2:
            raise ValueError(f"fit: the lr schedule must return an lr or an (lr, momentum) pair; "
                             f"at step {step} it returned {len(out)} values.")
        return V.step_lr(out[0], step, "fit"), V.step_momentum(out[1], step, "fit")
    lr_i = V.step_lr(out, step, "fit")
    if mom_fn is None:
        return lr_i, math.nan
    return lr_i, V.step_momentum(mom_fn(step), step, "fit")


def _set_hparams(opt: torch.optim.Optimizer, lr: float, mom: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr
        if not math.isnan(mom):
            if "momentum" in g:
                g["momentum"] = mom
            elif "betas" in g:
                g["betas"] = (mom, g["betas"][1])


def _current_momentum(opt: torch.optim.Optimizer) -> float:
    g = opt.param_groups[0]
    if "momentum" in g:
        return float(g["momentum"])
    if "betas" in g:
        return float(g["betas"][0])
    return float("nan")


def _progress(steps: int, progress: bool, label: str):
    if not progress or config.quick():
        return None
    from tqdm.auto import tqdm
    return tqdm(total=steps, desc=label or "fit", unit="it", leave=False)


def named_runs(runs, what: str = "History") -> list[tuple[str, object]]:
    """``{label: run}`` or a list of runs (named by their ``label``) -> ``[(label, run), ...]``;
    the one way every table and plot of several runs takes its argument."""
    from collections.abc import Mapping
    items = list(runs.items()) if isinstance(runs, Mapping) else [
        (getattr(r, "label", "") or f"run {i}", r) for i, r in enumerate(runs)]
    if not items:
        raise ValueError(f"give at least one run: a dict {{label: {what}}} or a list of {what}s.")
    return items


def compare(runs: "dict[str, History] | Sequence[History]") -> str:
    """A plain-text table of several runs: final and best accuracy, iterations, epochs, wall time."""
    items = named_runs(runs)
    width = max(8, *(len(k) for k, _ in items))
    lines = [f"{'run':<{width}}  {'final acc':>9}  {'best acc':>8}  {'iters':>7}  {'epochs':>6}  {'time (s)':>8}"]
    for name, h in items:
        lines.append(f"{name:<{width}}  {h.final_accuracy:>9.2%}  {h.best_accuracy:>8.2%}  "
                     f"{h.steps:>7d}  {h.steps / h.steps_per_epoch:>6.1f}  {h.wall_time:>8.1f}")
    return "\n".join(lines)
