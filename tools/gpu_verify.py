#!/usr/bin/env python3
"""One GPU verification run: the CUDA path, its speed and the papers' headline numbers, in 9 minutes.

    tools/gpu_verify.sh OUTDIR              # on a GPU machine; SUPERCONV_DATA names the datasets
    tools/gpu_verify.sh --dry-run OUTDIR    # every part on the CPU at a tiny size (1-2 minutes)
    tools/gpu_verify.sh --only 4,5 --total 240 OUTDIR   # a rerun of some parts in less time

The parts, in this order, so that a run cut off early still reports the ones before the cut:

  1 tests       the CUDA-only tests of tests/test_fast.py (graph step == eager step, fall-back on a
                failed capture, dropout, and the flagship case: 50 steps of ResNet-20 in bf16 with
                BatchNorm and channels_last, graph against eager);
  2 throughput  benchmarks/throughput.py's table: fit against the raw eager step and against a
                typical DataLoader loop, per model;
  3 mnist       the seed's claim (benchmarks/time_to_accuracy.py): LeNet, batch 64, 1cycle 12
                epochs, accuracy and training seconds (target >= 99.3 % in <= 5 s);
  4 range_test  Smith & Topin's ResNet-56 accuracy range test 0 -> 3 and the indicator's verdict;
  5 one_cycle   ResNet-56, 1cycle 0.1 -> 3 against piecewise constant at the same iterations
                (experiments.one_cycle_vs_piecewise, as notebook 04);
  6 hessian     the Hessian-free estimate during a short 1cycle run and a short constant run
                (hessian.runs, read by experiments.hessian_ordering, as notebook 05).

Each part runs in its own process with its own time budget (its share of ``--total``, 500 s:
time a part leaves unused passes on to the later ones), prints its time, and is killed at
its budget, so one failure or hang does not stop the rest. The ResNet-56 parts time a few
iterations first and then run as many iterations as fit their budget, up to the paper's (the
range test: 5,000 at batch 1,000; 1cycle vs piecewise: the issue's 5,000 each). A part that needs
a dataset FAILS when ``SUPERCONV_DATA`` does not hold it (no silent skip, no download).

Status: ``pass`` = the part ran to its end and its checks held (tests passed and none skipped on
a GPU; fit took the CUDA graph for every throughput model; every run learned: accuracy well above
chance; numbers finite; the dry run's tiny CIFAR runs need only finish with finite numbers);
``fail``; ``timeout`` = killed at its budget; ``skipped`` = not selected (``--only``). The papers'
and the issue's targets (accuracy, seconds, speed ratios) are reported as met or missed in the key
figures and in summary.json; they do not decide the status.

OUTDIR receives summary.md and summary.json (one row per part: status, key figures, seconds;
hardware and torch version; the curves), log.txt (everything printed) and the figures
range_test.png, one_cycle.png and hessian.png: six files, within what the device tool brings back.
The summary files are rewritten after every part. Exit status 0 when every selected part passed.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from superconv_lib import (config, data, experiments, hessian, indicator,  # noqa: E402
                           models, plots, train)

# ---------------------------------------------------------------------------------------------
# Everything one would tune, in one place
# ---------------------------------------------------------------------------------------------

TOTAL_S = 500           # 9 minutes on one H100/H200 less this driver's start (a cold torch and
                        # matplotlib import) and the last part's kill; the device tool
                        # allows 10 per command
PARTS = {               # name: (what it checks, its share of --total on a GPU: relative weights)
    "tests": ("CUDA-only tests: graph == eager, fall-back, dropout, flagship ResNet-20", 100),
    "throughput": ("throughput: fit vs raw step vs DataLoader loop", 110),
    "mnist": ("MNIST seed claim: LeNet, batch 64, 1cycle 12 epochs", 45),
    "range_test": ("ResNet-56 accuracy range test 0 -> 3, indicator verdict", 90),
    "one_cycle": ("ResNet-56 1cycle 0.1 -> 3 vs piecewise, same iterations", 150),
    "hessian": ("Hessian-free estimate: short 1cycle and constant runs", 45),
}
DRY_PART_S = 150        # --dry-run: each part's limit (they take seconds; it only catches a hang)

GPU = {                 # the papers' sizes; the ResNet-56 parts shrink to fit their budgets
    # every test of tests/test_fast.py; the flagship first and in a process of its own, so that
    # the fall-back tests' failed captures cannot disturb it
    "tests_k": ["flagship", "not flagship"],
    # throughput.py's own sizes (None): every model, 100 timed steps after 10 of warm-up
    "tp_models": None, "tp_steps": None, "tp_warmup": None, "tp_workers": min(4, os.cpu_count() or 1),
    "tp_batch": None, "tp_limit": None,
    "mnist_limit": None, "mnist_test_limit": None, "mnist_learned": 0.98,
    "cifar_model": "resnet56", "image_size": 32, "train_limit": None, "test_limit": None,
    "batch": 1000, "augment": "flip",       # Smith's Caffe data layer: mirror only
    "learned": 0.1,                         # "it learned": best accuracy >= chance + this
    "held": 0.1,                            # range test: mean accuracy at lr >= 2 >= chance + this
    "range_iters": 5000, "range_points": 50,  # Smith: 5,000 iterations, test accuracy every 100
    "cycle_iters": 5000, "cycle_evals": 10,   # the target (Smith's run: 10,000)
    "hessian_iters": 1000, "hessian_every": 10,
    "calibrate_iters": 20, "min_iters": 100, "multiple": 50,   # 50 iterations = 1 epoch at 1,000
    "safety": 0.85, "reserve_s": 8,         # share of the time left that training may use; plots
}
DRY = {                 # the same parts, tiny, on the CPU: the plumbing, not the numbers
    **GPU,
    "tests_k": ["graph or capture or precision or cuda or flagship"],
    "tp_models": ["lenet", "resnet20"], "tp_steps": 3, "tp_warmup": 1, "tp_workers": 0,
    "tp_batch": 32, "tp_limit": 256,
    "mnist_limit": 1000, "mnist_test_limit": 500, "mnist_learned": 0.5,
    "cifar_model": "resnet8", "image_size": 16, "train_limit": 2000, "test_limit": 500,
    # a tiny ResNet for two epochs at lr up to 3 learns little and unreliably: the dry run checks
    # that the runs end with finite numbers, not that they learned (None: no such check)
    "batch": 50, "learned": None, "held": None,
    "range_iters": 120, "range_points": 10,
    "cycle_iters": 80, "cycle_evals": 4,
    "hessian_iters": 30, "hessian_every": 5,
}
TARGETS = {             # the targets (on an H100), reported as met or missed
    "mnist_accuracy": 0.993, "mnist_seconds": 5.0,     # the seed: >= 99.3 % in <= 5 s of training
    "s_per_epoch": 1.2,                                # ResNet-56, batch 1,000, augmentation included
    "fit_vs_raw": 0.9, "fit_vs_typical": 3.0,
}


class DataMissing(RuntimeError):
    """A dataset part found no local copy in SUPERCONV_DATA: a failure, never a skip."""


# ---------------------------------------------------------------------------------------------
# One part, in its own process
# ---------------------------------------------------------------------------------------------

class Part:
    """What a part reports: status, one line of key figures, targets, data; saved as JSON after
    every step that produced numbers, so a part killed at its budget still leaves them."""

    def __init__(self, name: str, deadline: float, result: Path, outdir: Path, dry: bool) -> None:
        self.name, self.deadline, self.result, self.outdir, self.dry = name, deadline, result, outdir, dry
        self.S = DRY if dry else GPU
        self.status: str | None = None
        self.figures = ""
        self.note = ""
        self.targets: list[dict] = []
        self.data: dict = {}

    def left(self) -> float:
        """Seconds until this part's deadline."""
        return self.deadline - time.time()

    def target(self, what: str, value: float, goal: str, met: bool) -> None:
        self.targets.append({"what": what, "value": _num(value), "goal": goal, "met": bool(met)})

    def fail(self, why: str) -> None:
        self.status, self.note = "fail", why

    def save(self) -> None:
        payload = {"status": self.status, "figures": self.figures, "note": self.note,
                   "targets": self.targets, "data": self.data}
        tmp = self.result.with_suffix(".tmp")
        tmp.write_text(json.dumps(_clean(payload), default=_num))
        os.replace(tmp, self.result)


def _clean(v):
    """``v`` with every non-finite float inside it as None (json's ``default`` never sees plain
    floats, and a bare NaN is not JSON)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def _num(v):
    """JSON-safe numbers: NaN/inf as None, numpy and torch scalars as floats."""
    if isinstance(v, (np.generic, torch.Tensor)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    if isinstance(v, np.ndarray):
        return [_num(x) for x in v.tolist()]
    return str(v)


def _bench(name: str):
    """A benchmarks/ script as a module (by path: a `benchmarks` package elsewhere cannot shadow it)."""
    spec = importlib.util.spec_from_file_location(f"superconv_benchmarks_{name}",
                                                  ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def require_data(*names: str) -> None:
    """Fail (DataMissing) unless SUPERCONV_DATA is set and holds each dataset's file."""
    if not os.environ.get("SUPERCONV_DATA"):
        raise DataMissing("SUPERCONV_DATA is not set: point it at the folder holding mnist.npz and "
                          "cifar10-jpeg.npz (on the GPU machine, a copy carried into the checkout)")
    try:
        folder = config.data_dir()
    except FileNotFoundError as e:
        raise DataMissing(str(e)) from e
    for name in names:
        files = data.DATASETS[name].files
        if not any((folder / f).is_file() for f in files):
            raise DataMissing(f"{' or '.join(files)} not found in SUPERCONV_DATA={folder}")


def _chance(y: torch.Tensor) -> float:
    return 1.0 / int(torch.unique(y).numel())


def _savefig(p: Part, ax, name: str) -> None:
    """Save a figure; a plotting problem is noted, never a failure of the part."""
    try:
        ax.figure.savefig(p.outdir / name, dpi=90, bbox_inches="tight")
    except Exception as e:   # the numbers matter, the picture is a bonus
        p.note += f" (figure {name} not saved: {type(e).__name__}: {e})"


# --- 1 ---------------------------------------------------------------------------------------

def part_tests(p: Part) -> None:
    """The CUDA-only tests through pytest; on a GPU every test must pass, none may skip."""
    if not p.dry:
        require_data("mnist", "cifar10")
    runs, late = [], None
    for i, k in enumerate(p.S["tests_k"]):
        xml = p.result.with_suffix(f".{i}.xml")
        cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-o", "addopts=", "-p",
               "no:cacheprovider", f"--junitxml={xml}", "tests/test_fast.py", "-k", k]
        print(" ".join(cmd[1:]), flush=True)
        try:
            rc = subprocess.run(cmd, cwd=ROOT, timeout=max(10.0, p.left() - 5)).returncode
        except subprocess.TimeoutExpired:     # keep the reports of the runs before it
            late = k
            break
        if not xml.is_file():
            p.fail(f"pytest -k {k!r} wrote no report (exit {rc})")
            return
        runs.append((rc, xml))
    cases = []
    for tc in (t for _, xml in runs for t in ET.parse(xml).getroot().iter("testcase")):
        kind = next((c.tag for c in tc if c.tag in ("failure", "error", "skipped")), "passed")
        reason = next((c.get("message", "") for c in tc if c.tag == kind), "")
        props = {pr.get("name"): pr.get("value") for pr in tc.iter("property")}
        cases.append({"test": tc.get("name"), "outcome": kind, "reason": reason,
                      "seconds": float(tc.get("time", 0) or 0), "properties": props})
    count = {k: sum(c["outcome"] == k for c in cases) for k in ("passed", "failure", "error", "skipped")}
    exits = [rc for rc, _ in runs]
    p.data = {"exit": exits, "counts": count, "cases": cases}
    p.figures = (f"{count['passed']} passed, {count['failure'] + count['error']} failed, "
                 f"{count['skipped']} skipped")
    flag = next((c for c in cases if "flagship" in c["test"]), None)
    if flag and flag["properties"]:     # recorded before its asserts: there on a failure too
        p.figures += f"; flagship ResNet-20 bf16 ({flag['outcome']}): " + _flagship_figures(
            flag["properties"])
    elif flag:
        p.figures += f"; flagship {flag['outcome']}"
    bad = [f"{c['test']}: {c['reason'][:300]}" for c in cases if c["outcome"] in ("failure", "error")]
    skipped = [f"{c['test']} ({c['reason']})" for c in cases if c["outcome"] == "skipped"]
    if late is not None:
        p.fail(f"pytest -k {late!r} ran past the part's budget")
    elif bad or any(rc not in (0, 5) for rc in exits):
        p.fail(f"failed: {' | '.join(bad) or f'pytest exits {exits}'}")
    elif not p.dry and skipped:
        p.fail(f"skipped on a GPU machine (they must run here): {'; '.join(skipped)}")
    elif not p.dry and flag is None:
        p.fail("the flagship test (ResNet-20 bf16, graph vs eager) was not found")
    elif count["passed"] == 0:
        p.fail("no test ran")


def _flagship_figures(props: dict) -> str:
    """The flagship test's drifts (its properties ``<name>_<steps>``) in one line, per run
    length: graph vs its uncaptured step, graph vs eager, the tensor update vs torch.optim, and
    eager vs eager, in % (weights: of the distance travelled; loss: of the mean loss)."""
    out = []
    for steps in sorted({int(k.rsplit("_", 1)[1]) for k in props if k.rsplit("_", 1)[-1].isdigit()}):
        pr = {k.rsplit("_", 1)[0]: 100 * float(v) for k, v in props.items()
              if k.endswith(f"_{steps}") and "drift" in k}
        part = ", ".join(f"{label} {pr[key]:.2f} %" for label, key in (
            ("graph vs uncaptured (weights)", "capture_weight_drift"),
            ("graph vs eager (loss)", "loss_drift"), ("(weights)", "weight_drift"),
            ("uncaptured vs eager (weights)", "update_weight_drift"),
            ("eager vs eager (weights)", "eager_weight_drift")) if key in pr)
        out.append(f"{steps} steps: {part}")
    return "; ".join(out) or "no figures recorded"


# --- 2 ---------------------------------------------------------------------------------------

def part_throughput(p: Part) -> None:
    """benchmarks/throughput.py, one model after the other (each row saved as it comes)."""
    require_data("mnist", "cifar10")
    tp = _bench("throughput")
    S = p.S
    names = S["tp_models"] or list(tp.CASES)
    print(tp.HEADER, flush=True)
    rows = p.data.setdefault("rows", [])
    for name in names:
        r = tp.measure(name, steps=S["tp_steps"], warmup=S["tp_warmup"], workers=S["tp_workers"],
                       max_batch=S["tp_batch"], limit=S["tp_limit"])
        print(tp.format_row(r), flush=True)
        rows.append(r)
        p.figures = _throughput_figures(rows)
        p.save()
    for r in rows:
        p.target(f"{r['case']}: fit / raw step", r["a/b"], f">= {TARGETS['fit_vs_raw']}",
                 r["a/b"] >= TARGETS["fit_vs_raw"])
        p.target(f"{r['case']}: fit / DataLoader loop", r["a/c"], f">= {TARGETS['fit_vs_typical']}",
                 r["a/c"] >= TARGETS["fit_vs_typical"])
        if r["case"] == "resnet56":
            p.target("resnet56 batch 1000: s/epoch (steady fit)", r["s/epoch"],
                     f"<= {TARGETS['s_per_epoch']}", r["s/epoch"] <= TARGETS["s_per_epoch"])
    numbers = [r[k] for r in rows for k in ("fit", "eager", "raw", "typical")]
    eager = [r["case"] for r in rows if not r["path"].startswith("graph")]
    if not all(math.isfinite(v) and v > 0 for v in numbers):
        p.fail("a throughput is not a positive number")
    elif not p.dry and eager:         # fit(step_path="auto") on CUDA must take the graph
        p.fail(f"fit fell back to eager on the GPU for {', '.join(eager)} (log: why)")


def _throughput_figures(rows: list[dict]) -> str:
    ab = min(rows, key=lambda r: r["a/b"])
    ac = min(rows, key=lambda r: r["a/c"])
    out = (f"fit/raw min {ab['a/b']:.2f} ({ab['case']}), fit/DataLoader min {ac['a/c']:.2f} "
           f"({ac['case']}); paths " + ", ".join(sorted({r['path'] for r in rows})))
    r56 = next((r for r in rows if r["case"] == "resnet56"), None)
    if r56:
        out += f"; resnet56 {r56['s/epoch']:.2f} s/epoch"
    return out


# --- 3 ---------------------------------------------------------------------------------------

def part_mnist(p: Part) -> None:
    """The seed's MNIST 1cycle run, as benchmarks/time_to_accuracy.py times it."""
    require_data("mnist")
    tta = _bench("time_to_accuracy")
    h, clock, target, target_s, spe = tta.mnist("auto", None, limit=p.S["mnist_limit"],
                                                test_limit=p.S["mnist_test_limit"])
    r = tta.summarize(h, clock, target, target_s)
    p.data = {**r, "steps": h.steps, "epochs": h.steps / spe,
              "evals": [[e.step, e.accuracy] for e in h.evals], "clock": clock.points}
    reached = r["s_to_target"]
    p.figures = (f"{r['final_accuracy']:.2%} after {h.steps} it ({h.steps / spe:.0f} epochs) in "
                 f"{r['train_s']:.1f} s of training ({r['path']}, set-up {r['setup_s']:.1f} s); "
                 + (f"{target:.1%} first at {reached:.1f} s" if math.isfinite(reached)
                    else f"{target:.1%} not reached"))
    p.target("MNIST final accuracy", r["final_accuracy"], f">= {TARGETS['mnist_accuracy']:.1%}",
             r["final_accuracy"] >= TARGETS["mnist_accuracy"])
    p.target("MNIST training seconds", r["train_s"], f"<= {TARGETS['mnist_seconds']:g} s",
             r["train_s"] <= TARGETS["mnist_seconds"])
    if not r["final_accuracy"] >= p.S["mnist_learned"]:
        p.fail(f"LeNet did not learn: {r['final_accuracy']:.2%} < {p.S['mnist_learned']:.0%}")


# --- 4, 5, 6: ResNet-56 on CIFAR-10 ------------------------------------------------------------

def cifar(p: Part) -> tuple[data.Loader, tuple[torch.Tensor, torch.Tensor]]:
    """The CIFAR-10 training loader (Smith's batch and augmentation) and the test split."""
    require_data("cifar10")
    S = p.S
    x, y = data.load("cifar10", "train", limit=S["train_limit"])
    xt, yt = data.load("cifar10", "test", limit=S["test_limit"])
    x, xt = data.downscale(x, S["image_size"]), data.downscale(xt, S["image_size"])
    return data.Loader(x, y, S["batch"], augment=S["augment"]), (xt, yt)


def iterations(p: Part, loader: data.Loader, eval_data, *, runs: int, evals: int, cap: int,
               overhead: float = 1.0) -> int:
    """How many iterations each of ``runs`` runs (with ``evals`` evaluations each) can have in
    the time left: a few iterations of the model are timed on a throwaway copy first. At most
    ``cap`` (the paper's), at least ``min_iters``, a multiple of ``multiple``. Dry run: ``cap``."""
    S = p.S
    if p.dry:
        return cap
    t0 = time.time()
    config.seed_everything(0)
    model = models.build(S["cifar_model"])
    h = train.fit(model, loader, steps=S["calibrate_iters"], lr=0.1, weight_decay=1e-4,
                  progress=False)
    loader.epoch = 0
    t_iter = h.wall_time / h.steps * overhead
    prec = h.info["precision"]
    train.evaluate(model, eval_data, normalize=loader.normalize, precision=prec)   # warm-up
    t = time.perf_counter()
    train.evaluate(model, eval_data, normalize=loader.normalize, precision=prec)
    t_eval = time.perf_counter() - t
    setup = h.info["setup_s"]
    left = (p.left() - S["reserve_s"]) * S["safety"]
    n = int((left / runs - setup - evals * t_eval) / t_iter) // S["multiple"] * S["multiple"]
    n = max(S["min_iters"], min(cap, n))
    p.data["sizing"] = {"s_per_iteration": t_iter, "s_per_evaluation": t_eval, "setup_s": setup,
                        "path": f"{h.info['step_path']}/{prec}", "seconds_left": left,
                        "iterations": n, "cap": cap, "calibration_s": time.time() - t0}
    print(f"sizing: {1e3 * t_iter:.1f} ms/iteration ({h.info['step_path']}/{prec}), "
          f"{t_eval:.2f} s/evaluation, set-up {setup:.1f} s -> {runs} x {n} iterations "
          f"(cap {cap}) in {left:.0f} s", flush=True)
    return n


def part_range_test(p: Part) -> None:
    """Smith & Topin's indicator: test accuracy while the lr rises linearly 0 -> 3."""
    S = p.S
    loader, eval_data = cifar(p)
    n = iterations(p, loader, eval_data, runs=1, evals=S["range_points"], cap=S["range_iters"])
    every = max(1, n // S["range_points"])
    ind = indicator.indicator(lambda: models.build(S["cifar_model"]), loader, eval_data,
                              max_lr=3.0, num_iter=n, eval_every=every, momentum=0.9,
                              weight_decay=1e-4, label=f"{S['cifar_model']}, batch {S['batch']}",
                              progress=False)
    print(ind.summary(), flush=True)
    a = ind.analysis
    top = float(np.mean(ind.accuracy[ind.lrs >= 2.0])) if (ind.lrs >= 2.0).any() else math.nan
    wall = ind.info["wall_time"]
    verdict = ("super-converges" if a.super_converges else
               "does not super-converge" if a.trains else "does not train")
    plateau = f"{a.plateau[0]:.2g}-{a.plateau[1]:.2g}" if a.plateau else "none"
    p.figures = (f"{verdict}: score {a.score:.2f}, plateau lr {plateau}, best {a.best_accuracy:.1%}, "
                 f"mean at lr >= 2 {top:.1%}; {n} it at batch {S['batch']} in {wall:.0f} s "
                 f"({1e3 * wall / n:.0f} ms/it incl. evaluations)")
    p.data.update(summary=ind.summary(), iterations=n, eval_every=every, wall_s=wall,
                  lrs=ind.lrs, accuracy=ind.accuracy, eval_loss=ind.eval_loss,
                  score=a.score, plateau=list(a.plateau) if a.plateau else None,
                  bounds=list(a.bounds) if a.bounds else None, best=a.best_accuracy,
                  super_converges=a.super_converges, stop_reason=ind.stop_reason)
    c = experiments.indicator_plateau(ind)
    p.target(c.phenomenon, c.value, f">= {c.threshold:g} {c.unit}", c.holds)
    p.save()
    _savefig(p, ind.plot(), "range_test.png")
    learned = S["learned"] is None or a.best_accuracy >= ind.chance + S["learned"]
    held = S["held"] is None or top >= ind.chance + S["held"]
    if not (ind.completed and len(ind.lrs) >= 3 and learned and held):
        p.fail(f"the sweep did not learn and hold: {ind.summary()}")


def part_one_cycle(p: Part) -> None:
    """Super-convergence itself, as notebook 04 runs it (experiments.one_cycle_vs_piecewise):
    1cycle 0.1 -> 3 against Smith's piecewise-constant 0.35 at the same iterations, same seed and
    batches."""
    S = p.S
    loader, eval_data = cifar(p)
    n = iterations(p, loader, eval_data, runs=2, evals=S["cycle_evals"], cap=S["cycle_iters"])
    runs, checks = experiments.one_cycle_vs_piecewise(
        lambda: models.build(S["cifar_model"]), loader, eval_data, steps=n,
        eval_every=max(1, n // S["cycle_evals"]))
    epochs = n / len(loader)
    for name, h in runs.items():
        p.data[name] = {"final_accuracy": h.final_accuracy, "wall_s": h.wall_time,
                        "s_per_epoch": h.wall_time / epochs, "stop_reason": h.stop_reason,
                        "path": f"{h.info.get('step_path')}/{h.info.get('precision')}",
                        "evals": [[e.step, e.accuracy] for e in h.evals]}
        print(f"{name}: {h.final_accuracy:.2%} after {h.steps} it in {h.wall_time:.1f} s "
              f"({h.info.get('step_path')}/{h.info.get('precision')})", flush=True)
    (n1, one), (n2, pw) = runs.items()
    spe = one.wall_time / epochs          # its evaluations included: an upper bound
    p.data.update(iterations=n, batch=S["batch"], epochs=epochs, s_per_epoch=spe)
    p.figures = (f"{n1} {one.final_accuracy:.2%} vs {n2} {pw.final_accuracy:.2%} after {n} it "
                 f"({epochs:g} epochs, batch {S['batch']}); {spe:.2f} s/epoch (1cycle, "
                 f"augmentation and evaluations included)")
    for c in checks:
        p.target(c.phenomenon, c.value, f">= {c.threshold:g} {c.unit}", c.holds)
    p.target(f"{S['cifar_model']} batch {S['batch']}: s/epoch", spe, f"<= {TARGETS['s_per_epoch']}",
             spe <= TARGETS["s_per_epoch"])
    p.save()
    ax = plots.compare(runs, x="step", title=f"{S['cifar_model']}: {n} iterations, batch {S['batch']}")
    _savefig(p, ax, "one_cycle.png")
    accs = [experiments.accuracy(h) for h in runs.values()]
    if any(h.stop_reason for h in runs.values()):
        p.fail("a run diverged: " + "; ".join(f"{k}: {h.stop_reason}" for k, h in runs.items()
                                              if h.stop_reason))
    elif not all(0 <= a <= 1 for a in accs):
        p.fail(f"an accuracy is not a number in [0, 1]: {accs}")
    elif S["learned"] is not None and min(accs) < _chance(eval_data[1]) + S["learned"]:
        p.fail("a run did not learn: " + ", ".join(f"{a:.1%}" for a in accs))


def part_hessian(p: Part) -> None:
    """hessian.runs on the paper's CIFAR preset, 1cycle 0.1 -> 3 and constant 0.35, short; read
    as notebook 05 reads it (experiments.hessian_ordering)."""
    S = p.S
    loader, eval_data = cifar(p)
    n = iterations(p, loader, eval_data, runs=2, evals=1, cap=S["hessian_iters"], overhead=1.05)
    P = experiments.HESSIAN_PRESETS["cifar10"]
    lrs = {k: v for k, v in experiments.comparison_schedules(n, cycle=P["cycle"],
                                                             standard=P["standard"]).items()
           if not k.startswith("piecewise")}
    runs = hessian.runs(S["cifar_model"], loader, lrs, steps=n, every=S["hessian_every"],
                        weight_decay=P["weight_decay"], eval_data=eval_data, eval_every=n,
                        progress=False)
    burn = n // 10
    ranges = {name: est.range(after=burn) for name, est in runs.items()}
    for name, est in runs.items():
        p.data[name] = {"range": ranges[name], "final_accuracy": est.history.final_accuracy,
                        "steps": est.steps, "lr": est.lr, "raw": est.raw, "smoothed": est.smoothed}
        print(f"{name}: estimate {ranges[name][0]:.3g}-{ranges[name][1]:.3g} after iteration {burn}, "
              f"accuracy {est.history.final_accuracy:.1%}", flush=True)
    (cn, cyc), (kn, const) = runs.items()
    ratio = ranges[cn][1] / ranges[kn][1]
    p.data.update(iterations=n, burn_in=burn, ratio_of_maxima=ratio)
    p.figures = (f"{n} it each: {cn} estimate {ranges[cn][0]:.3g}-{ranges[cn][1]:.3g}, {kn} "
                 f"{ranges[kn][0]:.3g}-{ranges[kn][1]:.3g} (after it {burn}); ratio of maxima "
                 f"{ratio:.2g}")
    for c in experiments.hessian_ordering(runs, "hessian_cifar", burn_in=burn):
        p.target(c.phenomenon, c.value, f">= {c.threshold:g} {c.unit}", c.holds)
    p.target("peak estimate under the cycle in the paper's 2-6", ranges[cn][1], "in [2, 6]",
             2 <= ranges[cn][1] <= 6)
    p.save()
    ax = plots.hessian(runs)
    _savefig(p, ax, "hessian.png")
    if not all(len(est.records) >= 3 and np.isfinite(est.raw).all() for est in runs.values()):
        p.fail("an estimate is missing or not finite")


def part_hardware(p: Part) -> None:
    """Hardware and software versions (the preflight; not a row of the table)."""
    cuda = torch.cuda.is_available()
    info = {"python": platform.python_version(), "torch": torch.__version__,
            "cuda_runtime": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
            "cuda": cuda, "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "torch_threads": torch.get_num_threads(),
            "cudnn_benchmark": torch.backends.cudnn.benchmark}
    if cuda:
        dev = torch.cuda.current_device()
        prop = torch.cuda.get_device_properties(dev)
        info.update(gpu=prop.name, gpu_count=torch.cuda.device_count(),
                    capability=f"{prop.major}.{prop.minor}", gpu_memory_gib=prop.total_memory / 2**30,
                    multiprocessors=prop.multi_processor_count)
        try:
            info["driver"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    p.data = info
    print(json.dumps(info), flush=True)


FUNCS = {"tests": part_tests, "throughput": part_throughput, "mnist": part_mnist,
         "range_test": part_range_test, "one_cycle": part_one_cycle, "hessian": part_hessian,
         "hardware": part_hardware}


def child(args) -> int:
    p = Part(args.part, args.deadline, Path(args.result), Path(args.outdir), args.dry_run)
    try:
        FUNCS[args.part](p)
        if p.status is None:
            p.status = "pass"
    except Exception as e:
        traceback.print_exc()
        p.fail(f"{type(e).__name__}: {e}")
    p.save()
    return 0 if p.status == "pass" else 1


# ---------------------------------------------------------------------------------------------
# The driver: parts in order, each in a process with a time limit
# ---------------------------------------------------------------------------------------------

class Log:
    """Everything printed goes to the terminal and to OUTDIR/log.txt."""

    def __init__(self, path: Path) -> None:
        self.f = open(path, "w", buffering=1)
        self.lock = threading.Lock()

    def __call__(self, line: str = "") -> None:
        with self.lock:
            print(line, flush=True)
            self.f.write(line + "\n")


def run_child(name: str, budget: float, args, env: dict, log: Log, tmp: Path) -> dict:
    """Run one part in a new process group; kill the group at ``budget`` seconds. Returns its
    row: the part's saved result (also a partial one, after a timeout) and the seconds taken."""
    result = tmp / f"{name}.json"
    deadline = time.time() + budget - 3        # the part's own deadline: time to save and exit
    cmd = [sys.executable, "-u", str(Path(__file__).resolve()), "--part", name,
           "--deadline", f"{deadline:.3f}", "--result", str(result), str(args.outdir)]
    if args.dry_run:
        cmd.insert(3, "--dry-run")
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace",
                            start_new_session=True)
    reader = threading.Thread(target=lambda: [log("  " + line.rstrip("\n")) for line in proc.stdout],
                              daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(proc)
    except KeyboardInterrupt:
        _kill(proc)
        raise
    reader.join(timeout=10)
    seconds = time.monotonic() - start
    row = {"status": None, "figures": "", "note": "", "targets": [], "data": {}}
    if result.is_file():
        try:
            row.update(json.loads(result.read_text()))
        except ValueError:
            pass
    if timed_out:
        row["status"] = "timeout"
        row["note"] = (f"killed at its budget of {budget:.0f} s; " + row.get("note", "")).strip("; ")
    elif row["status"] is None:
        row["status"] = "fail"
        row["note"] = f"the part's process ended (exit {proc.returncode}) without a result"
    row.update(seconds=seconds, budget_s=budget)
    return row


def _kill(proc: subprocess.Popen) -> None:
    """End the part's process group (pytest, DataLoader workers): TERM, then KILL."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def write_summary(out: Path, summary: dict) -> str:
    """summary.json and summary.md (the table); returns the table's text."""
    (out / "summary.json").write_text(json.dumps(_clean(summary), indent=1, default=_num,
                                                 allow_nan=False))
    hw = summary["hardware"]
    device = hw.get("gpu") or f"CPU ({hw.get('cpu_count', '?')} cores)"
    lines = [f"# GPU verification{' (dry run: CPU, tiny sizes)' if summary['dry_run'] else ''}",
             "",
             f"{device} · torch {hw.get('torch', '?')} (CUDA {hw.get('cuda_runtime')}, cuDNN "
             f"{hw.get('cudnn')}, driver {hw.get('driver', '-')}) · Python {hw.get('python', '?')} · "
             f"commit {summary.get('commit', '?')} · {summary['started']} · "
             f"{summary['total_s']:.0f} s in all",
             "",
             "| part | status | key figures | s |",
             "|---|---|---|---:|"]
    for r in summary["parts"]:
        figs = r["figures"] + (f" — {r['note']}" if r.get("note") else "")
        lines.append(f"| {r['index']} {r['part']} | {r['status']} | {figs.replace('|', '/')} | "
                     f"{r['seconds']:.1f} |")
    targets = [(r["part"], t) for r in summary["parts"] for t in r.get("targets", [])]
    if targets:
        lines += ["", ("Targets (the GPU's; a dry run's CPU-sized numbers do not speak to them):"
                       if summary["dry_run"] else "Targets (reported, not part of the status):"), ""]
        for part, t in targets:
            v = t["value"]
            v = f"{v:.4g}" if isinstance(v, (int, float)) else str(v)
            lines.append(f"- {part}: {t['what']}: {v} (goal {t['goal']}) "
                         f"{'met' if t['met'] else 'MISSED'}")
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("outdir", type=Path, help="folder for summary.md/json, log.txt and figures")
    ap.add_argument("--dry-run", action="store_true",
                    help="every part on the CPU at a tiny size (checks the script, not the GPU)")
    ap.add_argument("--only", action="append", metavar="PART[,PART...]",
                    help="run only these parts (names or numbers 1-6, comma-separated); the "
                         "others are 'skipped'")
    ap.add_argument("--total", type=float, default=TOTAL_S,
                    help=f"seconds for all parts together on a GPU (default {TOTAL_S})")
    ap.add_argument("--part-seconds", type=float, default=DRY_PART_S,
                    help=f"--dry-run: the time limit of each part (default {DRY_PART_S})")
    ap.add_argument("--part", choices=list(FUNCS), help=argparse.SUPPRESS)
    ap.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.part:
        return child(args)

    names = list(PARTS)
    selected = names
    if args.only:
        chosen = set()
        for s in (x.strip() for arg in args.only for x in arg.split(",") if x.strip()):
            name = names[int(s) - 1] if s.isdigit() and 1 <= int(s) <= len(names) else s
            if name not in PARTS:
                ap.error(f"--only: unknown part {s!r}; parts are 1-6 or {', '.join(names)}")
            chosen.add(name)
        selected = [n for n in names if n in chosen]       # always in the parts' order
    if not (args.total > 0 and args.part_seconds > 0):
        ap.error("--total and --part-seconds must be positive numbers of seconds")
    out = args.outdir = args.outdir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = Log(out / "log.txt")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    if env.get("SUPERCONV_DATA"):       # children run in the repository root: resolve it here
        d = Path(env["SUPERCONV_DATA"]).expanduser()
        if d.is_dir():
            env["SUPERCONV_DATA"] = str(d.resolve())
    if args.dry_run:
        env["SUPERCONV_DEVICE"] = "cpu"
    else:
        env.setdefault("SUPERCONV_DEVICE", "cuda")
    t0 = time.monotonic()
    summary = {"dry_run": args.dry_run, "started": datetime.datetime.now().isoformat(timespec="seconds"),
               "commit": _commit(), "total_budget_s": args.total, "hardware": {}, "parts": [],
               "total_s": 0.0}
    with tempfile.TemporaryDirectory(prefix="gpu_verify-") as tmp:
        hw = run_child("hardware", 120, args, env, log, Path(tmp))
        summary["hardware"] = hw.get("data", {})
        no_gpu = not args.dry_run and not summary["hardware"].get("cuda")
        planned = {n: (args.part_seconds if args.dry_run else PARTS[n][1]) for n in selected}
        try:
            for i, name in enumerate(names, 1):
                row = {"index": i, "part": name, "what": PARTS[name][0], "status": None,
                       "figures": "", "note": "", "targets": [], "data": {}, "seconds": 0.0,
                       "budget_s": 0.0}
                if name not in selected:
                    row.update(status="skipped", figures="not selected (--only)")
                elif no_gpu:
                    row.update(status="fail", note=hw["note"] or "no CUDA GPU visible to torch "
                                                                 "(use --dry-run on a CPU)")
                else:
                    budget = planned[name]
                    if not args.dry_run:   # its share of what is left: early finishers pass time on
                        left = args.total - (time.monotonic() - t0)
                        rest = sum(planned[n] for n in selected[selected.index(name):])
                        budget = max(5.0, budget * left / rest)
                    log(f"=== {i}/{len(names)} {name}: {PARTS[name][0]} (budget {budget:.0f} s)")
                    row.update(run_child(name, budget, args, env, log, Path(tmp)))
                    log(f"--- {name}: {row['status']} in {row['seconds']:.1f} s: {row['figures']}"
                        + (f" ({row['note']})" if row.get("note") else ""))
                summary["parts"].append(row)
                summary["total_s"] = time.monotonic() - t0
                write_summary(out, summary)
        except KeyboardInterrupt:
            log("interrupted: the summary holds the parts finished so far")
    summary["total_s"] = time.monotonic() - t0
    log()
    log(write_summary(out, summary))
    ok = all(r["status"] == "pass" for r in summary["parts"] if r["part"] in selected) \
        and len(summary["parts"]) == len(names)
    return 0 if ok else 1


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (out.stdout.strip() + ("+changes" if dirty else "")) or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


if __name__ == "__main__":
    sys.exit(main())
